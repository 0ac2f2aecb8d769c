package calendar

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
)

// The write side of the protocol: PUT of one object, MKCALENDAR.

// putCond is the precondition of a PUT.
type putCond struct {
	ifNoneMatch bool   // "If-None-Match: *": only create, never overwrite
	ifMatch     string // "If-Match: <etag>": only overwrite this version
}

// put writes one calendar object's bytes unchanged and returns the etag
// the server answers with ("" when it sends none: RFC 4791 §5.3.4 lets a
// server that changed the data omit it).
func (c *dav) put(ctx context.Context, href string, data []byte, cond putCond) (string, error) {
	hdr := http.Header{}
	hdr.Set("Content-Type", "text/calendar; charset=utf-8")
	if cond.ifNoneMatch {
		hdr.Set("If-None-Match", "*")
	}
	if cond.ifMatch != "" {
		hdr.Set("If-Match", quoteETag(cond.ifMatch))
	}
	resp, err := c.send(ctx, http.MethodPut, href, hdr, data)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.Header.Get("ETag"), nil
}

// quoteETag turns an etag as listed (servers differ in quoting it) into
// the quoted form If-Match wants.
func quoteETag(e string) string {
	if len(e) >= 2 && (e[0] == '"' || e[:2] == "W/") {
		return e
	}
	return `"` + e + `"`
}

// calendarSpec is what MKCALENDAR sets on a new collection.
type calendarSpec struct {
	DisplayName string
	Color       string
	Components  []string // VEVENT, VTODO; empty = the server's default
}

func mkcalendarBody(s calendarSpec) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>`)
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
func (c *dav) mkcalendar(ctx context.Context, href string, s calendarSpec) error {
	resp, err := c.do(ctx, "MKCALENDAR", href, "", mkcalendarBody(s))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}

// statCollection reads one collection's properties (PROPFIND Depth 0); ok
// is false when p exists but is not a calendar.
func (s *session) statCollection(ctx context.Context, home, p string) (col collection, ok bool, err error) {
	name, _ := relName(home, p)
	_, err = s.dav.multistatus(ctx, "PROPFIND", escapePath(p), "0", []byte(propfindCollections), func(r *msResponse) error {
		rp, err := hrefPath(r.Hrefs[0])
		if err != nil {
			return err
		}
		if cleanDir(rp) != p || !r.has(nameResourceType, nameCalendar) {
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
