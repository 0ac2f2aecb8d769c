package contacts

import (
	"context"
	"fmt"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/carddav"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// propfindBooks is the PROPFIND (Depth 1) on the address-book home.
const propfindBooks = dav.XMLHeader + `<D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">` +
	`<D:prop><D:resourcetype/><D:displayname/><CS:getctag/><D:sync-token/><D:supported-report-set/></D:prop></D:propfind>`

// book is one address book found on the home.
type book struct {
	dav.Coll
	DisplayName string
	CTag        string
	SyncToken   string
	CanSync     bool
}

// discover lists the user's address books: the home comes from the config
// template (Yandex: /addressbook/{email}/, no request) or from
// current-user-principal → addressbook-home-set (two requests), then one
// PROPFIND Depth 1 on it.
func (s *session) discover(ctx context.Context) ([]book, error) {
	home, err := s.findHome(ctx)
	if err != nil {
		return nil, err
	}
	return s.listBooks(ctx, home)
}

func (s *session) findHome(ctx context.Context) (string, error) {
	if h := s.cfg.homePath(s.email); h != "" {
		return dav.CleanDir(h), nil
	}
	wc, err := webdav.NewClient(s.dav.HC, s.dav.Base.String())
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil {
		return "", fmt.Errorf("current-user-principal: %w", err)
	}
	cc, err := carddav.NewClient(s.dav.HC, s.dav.Base.String())
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	home, err := cc.FindAddressBookHomeSet(ctx, principal)
	if err != nil {
		return "", fmt.Errorf("addressbook-home-set of %s: %w", principal, err)
	}
	if home == "" {
		return "", fmt.Errorf("principal %s has no addressbook-home-set", principal)
	}
	return dav.CleanDir(home), nil
}

// listBooks lists the address books directly below home.
func (s *session) listBooks(ctx context.Context, home string) ([]book, error) {
	var books []book
	_, err := s.dav.Multistatus(ctx, "PROPFIND", dav.EscapePath(home), "1", []byte(propfindBooks), func(r *dav.Response) error {
		p, err := dav.HrefPath(r.Hrefs[0])
		if err != nil {
			return err
		}
		p = dav.CleanDir(p)
		if p == home || !r.Has(dav.NameResourceType, dav.NameAddressBook) {
			return nil // the home itself, calendars, plain folders
		}
		name, ok := dav.RelName(home, p)
		if !ok {
			return fmt.Errorf("address book %s is outside the home %s", p, home)
		}
		books = append(books, bookFrom(r, name, p))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list address books in %s: %w", home, err)
	}
	return books, nil
}

func bookFrom(r *dav.Response, name, p string) book {
	return book{
		Coll:        dav.Coll{Name: name, Href: r.Hrefs[0], Path: p},
		DisplayName: r.Text(dav.NameDisplayName),
		CTag:        r.Text(dav.NameGetCTag),
		SyncToken:   r.Text(dav.NameSyncToken),
		CanSync:     r.Has(dav.NameReportSet, dav.NameSyncReport),
	}
}
