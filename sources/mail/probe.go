package mail

import (
	"context"
	"fmt"

	"github.com/y360backup/y360backup/sources"
)

// Probe checks that u's mailbox can be reached the way a backup reaches it:
// connect (TLS or STARTTLS per cfg), AUTHENTICATE XOAUTH2 with a token from
// tok (a refused token is invalidated and one fresh token tried), LIST, and
// LOGOUT. It returns the number of selectable folders. A refused token gives
// an error wrapping sources.ErrUnauthorized whose text names
// AUTHENTICATIONFAILED when the server said so. The doctor command uses it.
func Probe(ctx context.Context, cfg Config, u sources.User, tok sources.TokenSource) (folders int, err error) {
	if u.Email == "" {
		return 0, fmt.Errorf("mail: probe: user %s has no email address", u.ID)
	}
	cfg = cfg.withDefaults()
	r := &run{src: &Source{cfg: cfg}, cfg: cfg, user: u, tok: tok}
	defer r.finish()
	list, err := r.listFolders(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, fmt.Errorf("mail: probe %s for %s: %w", cfg.Addr, u.Email, err)
	}
	return len(list), nil
}

// Config returns the source's configuration (defaults filled in).
func (s *Source) Config() Config { return s.cfg }
