package calendar

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

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
	wc, err := webdav.NewClient(s.dav.hc, s.dav.base.String())
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	principal, err := wc.FindCurrentUserPrincipal(ctx)
	if err != nil {
		return "", fmt.Errorf("current-user-principal: %w", err)
	}
	cc, err := caldav.NewClient(s.dav.hc, s.dav.base.String())
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
	return cleanDir(home), nil
}

// listCollections lists the calendar collections directly below home with
// one PROPFIND Depth 1.
func (s *session) listCollections(ctx context.Context, home string) ([]collection, error) {
	homeHref := escapePath(home)
	var cols []collection
	_, err := s.dav.multistatus(ctx, "PROPFIND", homeHref, "1", []byte(propfindCollections), func(r *msResponse) error {
		p, err := hrefPath(r.Hrefs[0])
		if err != nil {
			return err
		}
		p = cleanDir(p)
		if p == home || !r.has(nameResourceType, nameCalendar) {
			return nil // the home itself, inboxes, address books, plain folders
		}
		name, ok := relName(home, p)
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
func collectionFrom(r *msResponse, name, p string) collection {
	c := collection{
		Name:        name,
		Href:        r.Hrefs[0],
		Path:        p,
		DisplayName: r.text(nameDisplayName),
		Color:       r.text(nameColor),
		CTag:        r.text(nameGetCTag),
		SyncToken:   r.text(nameSyncToken),
		CanSync:     r.has(nameReportSet, nameSyncReport),
	}
	if cs := r.Props[nameCompSet]; cs != nil {
		for _, e := range cs.Elems {
			if e.Name == nameComp {
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

// escapePath percent-encodes a decoded path for use as a request href.
func escapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// hrefPath decodes an href (path or absolute URL) to a plain path.
func hrefPath(href string) (string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("href %q: %w", href, err)
	}
	return u.Path, nil
}

// cleanDir normalizes a collection path to "/a/b/" form.
func cleanDir(p string) string {
	p = path.Clean("/" + p)
	if p != "/" {
		p += "/"
	}
	return p
}

// relName is child's path below dir ("/cal/u/" + "/cal/u/events-default/" →
// "events-default"), without slashes at either end.
func relName(dir, child string) (string, bool) {
	if !strings.HasPrefix(child, dir) {
		return "", false
	}
	rel := strings.Trim(strings.TrimPrefix(child, dir), "/")
	return rel, rel != ""
}
