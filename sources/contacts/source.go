package contacts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/internal/dav"
)

// Source backs up a user's address books over CardDAV.
type Source struct {
	cfg Config
	hc  *http.Client
}

var (
	_ sources.Source   = (*Source)(nil)
	_ sources.Restorer = (*Source)(nil)
)

// New returns a contacts source. A nil httpClient means a plain *http.Client.
func New(cfg Config, httpClient *http.Client) *Source {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Source{cfg: cfg, hc: httpClient}
}

// Name implements sources.Source.
func (s *Source) Name() string { return "contacts" }

// session is one Backup or RestoreContainer call: one user, one server.
type session struct {
	cfg   Config
	dav   *dav.Client
	email string
	st    sources.Store // nil during a restore
}

// Backup implements sources.Source. Only a failure of the user as a whole
// (discovery, 401 after one re-mint, ctx) is returned; a book or contact
// that fails goes to st.Fail and the run goes on.
func (s *Source) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	ss, err := s.newSession(u, tok)
	if err != nil {
		return err
	}
	ss.st = st
	books, err := ss.discover(ctx)
	if err != nil {
		return fmt.Errorf("contacts: user %s: %w", u.Email, err)
	}
	named := make([]dav.Named, len(books))
	for i, b := range books {
		named[i] = dav.Named{Name: b.Name, DisplayName: b.DisplayName}
	}
	return dav.BackupCollections(ctx, st, "contacts", "book", u.Email, named, s.cfg.selected,
		func(i int) error { return ss.backupBook(ctx, books[i]) })
}

func (s *Source) newSession(u sources.User, tok sources.TokenSource) (*session, error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("contacts: url: %w", err)
	}
	if u.Email == "" {
		return nil, errors.New("contacts: the user has no email (the CardDAV login and home)")
	}
	ac := &dav.AuthClient{HC: s.hc, Tok: tok, Timeout: s.cfg.Timeout, Source: "contacts"}
	if s.cfg.Auth == AuthBasic {
		ac.Basic = u.Email
	}
	return &session{cfg: s.cfg, dav: &dav.Client{HC: ac, Base: base}, email: u.Email}, nil
}

// Probe checks that the user's address books can be listed (what doctor
// runs): the home is found and PROPFIND on it answers. It returns the
// books' names.
func (s *Source) Probe(ctx context.Context, u sources.User, tok sources.TokenSource) ([]string, error) {
	ss, err := s.newSession(u, tok)
	if err != nil {
		return nil, err
	}
	books, err := ss.discover(ctx)
	if err != nil {
		return nil, fmt.Errorf("contacts: user %s: %w", u.Email, err)
	}
	names := make([]string, len(books))
	for i, b := range books {
		names[i] = b.Name
	}
	return names, nil
}
