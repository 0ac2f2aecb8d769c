package calendar

import (
	"context"
	"fmt"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// propfindCollections is the discovery PROPFIND (Depth 1) on the calendar
// home. Namespaces as Yandex's Outlook connector and Apple clients use them.
const propfindCollections = dav.XMLHeader + `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/">` +
	`<D:prop><D:resourcetype/><D:displayname/><CS:getctag/><I:calendar-color/><C:supported-calendar-component-set/><D:sync-token/><D:supported-report-set/></D:prop></D:propfind>`

// collection is one calendar or task list found by discovery.
type collection struct {
	Name        string // path relative to the calendar home: the container name
	Href        string // as the server sent it
	Path        string // decoded path, for matching member hrefs
	DisplayName string
	Color       string
	Components  []string // VEVENT, VTODO, ...
	CTag        string
	SyncToken   string
	CanSync     bool // sync-collection in supported-report-set
}

// discover finds the user's calendar collections: current-user-principal →
// calendar-home-set (both through go-webdav's client) → one PROPFIND Depth 1
// on the home for everything the incremental logic needs. Three requests.
func (s *session) discover(ctx context.Context) ([]collection, error) {
	home, err := s.findHome(ctx)
	if err != nil {
		return nil, err
	}
	return s.listCollections(ctx, home)
}

// findHome returns the decoded path of the user's calendar home
// ("/calendars/alice@example.org/"): two requests.
func (s *session) findHome(ctx context.Context) (string, error) {
	wc, err := webdav.NewClient(s.dav.HC, s.dav.Base.String())
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil {
		return "", fmt.Errorf("current-user-principal: %w", err)
	}
	cc, err := caldav.NewClient(s.dav.HC, s.dav.Base.String())
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	home, err := cc.FindCalendarHomeSet(ctx, principal)
	if err != nil {
		return "", fmt.Errorf("calendar-home-set of %s: %w", principal, err)
	}
	if home == "" {
		return "", fmt.Errorf("principal %s has no calendar-home-set", principal)
	}
	return dav.CleanDir(home), nil
}

// listCollections lists the calendar collections directly below home with
// one PROPFIND Depth 1.
func (s *session) listCollections(ctx context.Context, home string) ([]collection, error) {
	homeHref := dav.EscapePath(home)
	var cols []collection
	_, err := s.dav.Multistatus(ctx, "PROPFIND", homeHref, "1", []byte(propfindCollections), func(r *dav.Response) error {
		p, err := dav.HrefPath(r.Hrefs[0])
		if err != nil {
			return err
		}
		p = dav.CleanDir(p)
		if p == home || !r.Has(dav.NameResourceType, dav.NameCalendar) {
			return nil // the home itself, inboxes, address books, plain folders
		}
		name, ok := dav.RelName(home, p)
		if !ok {
			return fmt.Errorf("collection %s is outside the home %s", p, home)
		}
		c := collectionFrom(r, name, p)
		cols = append(cols, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list collections in %s: %w", home, err)
	}
	return cols, nil
}

// collectionFrom reads a collection's properties out of a PROPFIND response.
func collectionFrom(r *dav.Response, name, p string) collection {
	c := collection{
		Name:        name,
		Href:        r.Hrefs[0],
		Path:        p,
		DisplayName: r.Text(dav.NameDisplayName),
		Color:       r.Text(dav.NameColor),
		CTag:        r.Text(dav.NameGetCTag),
		SyncToken:   r.Text(dav.NameSyncToken),
		CanSync:     r.Has(dav.NameReportSet, dav.NameSyncReport),
	}
	if cs := r.Props[dav.NameCompSet]; cs != nil {
		for _, e := range cs.Elems {
			if e.Name == dav.NameComp {
				for _, a := range e.Attr {
					if a.Name.Local == "name" {
						c.Components = append(c.Components, a.Value)
					}
				}
			}
		}
	}
	return c
}
