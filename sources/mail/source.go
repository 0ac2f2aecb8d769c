package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/y360backup/y360backup/sources"
)

// Source backs up one user's mailbox over IMAP. It is safe for concurrent
// use: each Backup call has its own connection.
type Source struct {
	cfg Config
	// wrapConn, if set, wraps every raw TCP connection (tests observe writes).
	wrapConn func(net.Conn) net.Conn
}

var _ sources.Source = (*Source)(nil)

// New returns a mail source. Zero fields of cfg take NewConfig's defaults;
// call cfg.Validate first to reject bad configurations.
func New(cfg Config) *Source {
	return &Source{cfg: cfg.withDefaults()}
}

// Name implements sources.Source.
func (s *Source) Name() string { return "mail" }

// maxReconnects is how often a folder may lose its connection and go on.
const maxReconnects = 2

// userError ends the whole user's backup (store failure, no connection, token
// refused); other folder errors are recorded with Store.Fail.
type userError struct{ err error }

func (e *userError) Error() string { return e.err.Error() }
func (e *userError) Unwrap() error { return e.err }

// run is one Backup call: one user, at most one connection at a time.
type run struct {
	src  *Source
	cfg  Config
	user sources.User
	tok  sources.TokenSource
	st   sources.Store
	sess *session
}

// Backup implements sources.Source: LIST, then every wanted folder in turn.
func (s *Source) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	if u.Email == "" {
		return fmt.Errorf("mail: user %s has no email address", u.ID)
	}
	r := &run{src: s, cfg: s.cfg, user: u, tok: tok, st: st}
	defer r.finish()
	wrap := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("mail: %s: %w", u.Email, ctx.Err())
		}
		return fmt.Errorf("mail: %s: %w", u.Email, err)
	}

	folders, err := r.listFolders(ctx)
	if err != nil {
		return wrap(err)
	}
	present := make(map[string]bool, len(folders))
	for _, f := range folders {
		present[f.name] = true
	}
	for _, name := range st.Containers() {
		if !present[name] {
			if err := st.Remove(ctx, name); err != nil {
				return wrap(fmt.Errorf("remove vanished folder %q: %w", name, err))
			}
		}
	}
	for _, f := range folders {
		if !r.cfg.wanted(f) {
			st.Skip(f.name, "excluded by folder filter")
			continue
		}
		err := r.syncFolder(ctx, f)
		if err == nil {
			continue
		}
		var ue *userError
		if ctx.Err() != nil || errors.As(err, &ue) {
			return wrap(fmt.Errorf("folder %q: %w", f.name, err))
		}
		st.Fail(f.name, fmt.Errorf("mail: folder %q: %w", f.name, err))
	}
	return nil
}

// listFolders lists folders on a new connection (see list.go); one
// reconnect is allowed.
func (r *run) listFolders(ctx context.Context) ([]folder, error) {
	for attempt := 0; ; attempt++ {
		r.drop()
		err := r.connect(ctx, true)
		if err != nil {
			var ue *userError
			if errors.As(err, &ue) && isConnErr(ue.err) && attempt == 0 && ctx.Err() == nil {
				continue
			}
			return nil, err
		}
		folders := r.sess.folders
		r.sess.folders = nil
		for _, f := range folders {
			if strings.EqualFold(f.name, "INBOX") {
				return folders, nil
			}
		}
		return nil, errors.New("LIST returned no INBOX; refusing to treat the other folders as deleted")
	}
}

// session returns the live session, connecting if there is none.
func (r *run) session(ctx context.Context) (*session, error) {
	if r.sess != nil && r.sess.broken {
		r.drop()
	}
	if r.sess == nil {
		if err := r.connect(ctx, false); err != nil {
			return nil, err
		}
	}
	return r.sess, nil
}

// connect logs in with a token from r.tok (and lists folders with list).
func (r *run) connect(ctx context.Context, list bool) error {
	err := withToken(ctx, r.cfg, r.tok, "mail:imap_ro", func(token string) error {
		return dialRetry(ctx, func() error {
			s, err := dial(ctx, r.cfg, r.user.Email, token, list, r.src.wrapConn)
			if err == nil {
				r.sess = s
			}
			return err
		})
	})
	if err != nil {
		return &userError{err}
	}
	return nil
}

// withToken calls login with a token from tok. A refused token
// (*refusedError) is invalidated and one fresh token is tried before giving
// up with an error wrapping sources.ErrUnauthorized; scope names the scope
// the service application needs, for that error. Other errors of login are
// returned as they are.
func withToken(ctx context.Context, cfg Config, tok sources.TokenSource, scope string, login func(token string) error) error {
	var refusal *refusedError
	for attempt := 0; attempt < 2; attempt++ {
		token, err := tok.Token(ctx)
		if err != nil {
			return fmt.Errorf("get token: %w", err)
		}
		err = login(token)
		if err == nil {
			return nil
		}
		if !errors.As(err, &refusal) {
			return err
		}
		tok.Invalidate(token)
	}
	return fmt.Errorf("IMAP server %s refused the OAuth token, also a freshly minted one (%v); "+
		"check that the service application has the %s scope and that IMAP access is enabled for the user: %w",
		cfg.Addr, refusal, scope, sources.ErrUnauthorized)
}

func (r *run) drop() {
	if r.sess != nil {
		r.sess.close()
		r.sess = nil
	}
}

func (r *run) finish() {
	if r.sess != nil {
		r.sess.logout()
		r.sess = nil
	}
}

// syncFolder backs up one folder, reconnecting up to maxReconnects times when
// the connection fails; it resumes from the progress made so far.
func (r *run) syncFolder(ctx context.Context, f folder) error {
	c, err := r.st.Open(ctx, f.name)
	if err != nil {
		return &userError{fmt.Errorf("open container: %w", err)}
	}
	defer c.Close()
	fs := newFolderSync(r, f, c)
	for attempt := 0; ; attempt++ {
		err := fs.syncOnce(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ue *userError
		if errors.As(err, &ue) {
			return err
		}
		if isConnErr(err) && attempt < maxReconnects {
			r.drop()
			continue
		}
		// Give up on the folder, keeping the consistent progress made.
		if cerr := fs.commit(ctx); cerr != nil {
			return cerr
		}
		return err
	}
}
