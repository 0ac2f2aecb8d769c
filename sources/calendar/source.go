package calendar

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/y360backup/y360backup/sources"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// Source backs up a user's calendars and task lists over CalDAV.
type Source struct {
	cfg Config
	hc  *http.Client
}

var _ sources.Source = (*Source)(nil)

// New returns a calendar source. cfg must have passed Validate. A nil
// httpClient means a plain *http.Client; per-request timeouts come from
// cfg.Timeout either way, and Authorization is added per request.
func New(cfg Config, httpClient *http.Client) *Source {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Source{cfg: cfg, hc: httpClient}
}

// Name implements sources.Source.
func (s *Source) Name() string { return "calendar" }

// session is one Backup call: one user against one server.
type session struct {
	cfg Config
	dav *dav.Client
	st  sources.Store // nil during a restore
	// exact says whether calendar-multiget text is known to equal what GET
	// returns on this server (see fetch.go).
	exact exactness
}

// Backup implements sources.Source. It returns an error only when the user
// as a whole failed (discovery, authentication after one re-mint, ctx);
// a collection or object that fails is recorded with st.Fail and the rest
// of the run goes on.
func (s *Source) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	ss, err := s.newSession(u, tok)
	if err != nil {
		return err
	}
	ss.st = st

	cols, err := ss.discover(ctx)
	if err != nil {
		return fmt.Errorf("calendar: user %s: %w", u.Email, err)
	}
	named := make([]dav.Named, len(cols))
	for i, c := range cols {
		named[i] = dav.Named{Name: c.Name, DisplayName: c.DisplayName}
	}
	return dav.BackupCollections(ctx, st, "calendar", "collection", u.Email, named, s.cfg.selected,
		func(i int) error { return ss.backupCollection(ctx, cols[i]) })
}

// newSession validates the config and builds the authenticated client for
// one user (backup and restore alike).
func (s *Source) newSession(u sources.User, tok sources.TokenSource) (*session, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("calendar: url: %w", err)
	}
	ac := &dav.AuthClient{HC: s.hc, Tok: tok, Timeout: s.cfg.Timeout, Source: "calendar"}
	if s.cfg.Auth == AuthBasic {
		if u.Email == "" {
			return nil, errors.New("calendar: basic auth needs the user's email")
		}
		ac.Basic = u.Email
	}
	return &session{cfg: s.cfg, dav: &dav.Client{HC: ac, Base: base}}, nil
}
