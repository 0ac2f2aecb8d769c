package calendar

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// The write side of the protocol: PUT of one object, MKCALENDAR.

// putObject writes one calendar object's bytes unchanged and returns the
// etag the server answers with ("" when it sends none: RFC 4791 §5.3.4 lets
// a server that changed the data omit it).
func putObject(ctx context.Context, c *dav.Client, href string, data []byte, cond dav.PutCond) (string, error) {
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return c.Put(ctx, href, "text/calendar; charset=utf-8", int64(len(data)), open, cond)
}

// calendarSpec is what MKCALENDAR sets on a new collection.
type calendarSpec struct {
	DisplayName string
	Color       string
	Components  []string // VEVENT, VTODO; empty = the server's default
}

func mkcalendarBody(s calendarSpec) []byte {
	var b bytes.Buffer
	b.WriteString(dav.XMLHeader + `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>`)
	if s.DisplayName != "" {
		b.WriteString("<D:displayname>")
		xml.EscapeText(&b, []byte(s.DisplayName))
		b.WriteString("</D:displayname>")
	}
	if s.Color != "" {
		b.WriteString("<I:calendar-color>")
		xml.EscapeText(&b, []byte(s.Color))
		b.WriteString("</I:calendar-color>")
	}
	if len(s.Components) > 0 {
		b.WriteString("<C:supported-calendar-component-set>")
		for _, comp := range s.Components {
			b.WriteString(`<C:comp name="`)
			xml.EscapeText(&b, []byte(comp))
			b.WriteString(`"/>`)
		}
		b.WriteString("</C:supported-calendar-component-set>")
	}
	b.WriteString(`</D:prop></D:set></C:mkcalendar>`)
	return b.Bytes()
}

// mkcalendar creates a calendar collection at href (RFC 4791 §5.3.1).
func mkcalendar(ctx context.Context, c *dav.Client, href string, s calendarSpec) error {
	return c.Exec(ctx, "MKCALENDAR", href, mkcalendarBody(s))
}

// statCollection reads one collection's properties (PROPFIND Depth 0); ok
// is false when p exists but is not a calendar.
func (s *session) statCollection(ctx context.Context, home, p string) (col collection, ok bool, err error) {
	name, _ := dav.RelName(home, p)
	_, err = s.dav.Multistatus(ctx, "PROPFIND", dav.EscapePath(p), "0", []byte(propfindCollections), func(r *dav.Response) error {
		rp, err := dav.HrefPath(r.Hrefs[0])
		if err != nil {
			return err
		}
		if dav.CleanDir(rp) != p || !r.Has(dav.NameResourceType, dav.NameCalendar) {
			return nil
		}
		col, ok = collectionFrom(r, name, p), true
		return nil
	})
	if err != nil {
		return collection{}, false, fmt.Errorf("stat %s: %w", p, err)
	}
	return col, ok, nil
}
