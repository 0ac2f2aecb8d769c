package calendar

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/y360backup/y360backup/sources"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// exactness is what we know about calendar-multiget on this server.
//
// The repository must hold the bytes GET returns. A multiget carries the
// object as XML text; servers may re-serialize it there (and XML parsers
// normalize line ends, which readRaw avoids). So the first multiget of a
// session is checked against a plain GET of one object of the batch: equal
// → multiget is trusted for the session; different → every object is
// fetched by GET from then on (slower, always exact).
type exactness int

const (
	exactUnknown exactness = iota
	exactMultiget
	exactGET
)

// maxProbes is how many objects of a batch we try to compare before giving
// up for this batch (an object that changes between the two requests proves
// nothing either way).
const maxProbes = 3

type fetched struct {
	data []byte
	etag string
}

// fetch downloads members whose etag differs from the stored item and
// records them, committing mid (the not-yet-complete cursor) whenever the
// container says it is due. It returns how many objects could not be
// stored; an error means the collection pass must stop.
func (s *session) fetch(ctx context.Context, col collection, c sources.Container, members []member, mid cursor) (int, error) {
	todo := make([]member, 0, len(members))
	for _, m := range members {
		if it, ok := c.Get(m.ID); ok && m.ETag != "" && dav.SameETag(storedETag(it), m.ETag) {
			continue
		}
		todo = append(todo, m)
	}
	failed := 0
	for len(todo) > 0 {
		n := min(s.cfg.MultigetBatch, len(todo))
		f, err := s.fetchBatch(ctx, col, c, todo[:n])
		failed += f
		if err != nil {
			return failed, err
		}
		todo = todo[n:]
		if c.Due() {
			if err := c.Commit(ctx, mid); err != nil {
				return failed, fmt.Errorf("calendar: commit %s: %w", col.Name, err)
			}
		}
	}
	return failed, nil
}

func (s *session) fetchBatch(ctx context.Context, col collection, c sources.Container, batch []member) (int, error) {
	if s.exact == exactGET {
		return s.fetchByGET(ctx, col, c, batch)
	}
	got, bad, err := s.multiget(ctx, col, batch)
	if err != nil {
		if fatal(ctx, err) {
			return 0, err
		}
		// An unusable answer (broken XML, 5xx) for this batch: say so, and
		// still get every object, one GET each, so nothing is lost.
		s.st.Fail(col.Name, fmt.Errorf("%w (fetched the batch of %d by GET instead)", err, len(batch)))
		return s.fetchByGET(ctx, col, c, batch)
	}
	if s.exact == exactUnknown {
		if err := s.probe(ctx, batch, got); err != nil {
			return 0, err
		}
		if s.exact == exactGET {
			return s.fetchByGET(ctx, col, c, batch)
		}
	}
	failed := 0
	for _, m := range batch {
		f, ok := got[m.ID]
		if !ok {
			err := bad[m.ID]
			if err == nil {
				err = errors.New("missing from the calendar-multiget answer")
			}
			s.st.Fail(col.Name+"/"+m.ID, err)
			failed++
			continue
		}
		if err := s.store(ctx, c, m, f); err != nil {
			return failed, err
		}
	}
	return failed, nil
}

// multiget runs one calendar-multiget REPORT. Per-object problems (404,
// no calendar-data) come back in bad, keyed by member ID.
func (s *session) multiget(ctx context.Context, col collection, batch []member) (map[string]fetched, map[string]error, error) {
	hrefs := make([]string, len(batch))
	for i, m := range batch {
		hrefs[i] = m.Href
	}
	got := map[string]fetched{}
	bad := map[string]error{}
	_, err := s.dav.Multistatus(ctx, "REPORT", col.Href, "1", multigetBody(hrefs), func(r *dav.Response) error {
		m, ok, err := col.coll().Member(r)
		if err != nil || !ok {
			return err
		}
		if r.Status != 0 && r.Status/100 != 2 {
			bad[m.ID] = &dav.StatusError{Source: "calendar", Method: "REPORT calendar-multiget", Path: m.Href, Code: r.Status}
			return nil
		}
		cd := r.Props[dav.NameCalendarData]
		if cd == nil {
			bad[m.ID] = errors.New("calendar-multiget answer has no calendar-data")
			return nil
		}
		got[m.ID] = fetched{data: cd.Raw, etag: r.Text(dav.NameGetETag)}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("multiget %s: %w", col.Name, err)
	}
	return got, bad, nil
}

// probe compares one multiget result with a GET of the same object and
// settles s.exact (or leaves it unknown if no comparison was conclusive).
func (s *session) probe(ctx context.Context, batch []member, got map[string]fetched) error {
	tries := 0
	for _, m := range batch {
		f, ok := got[m.ID]
		if !ok {
			continue
		}
		if tries++; tries > maxProbes {
			return nil
		}
		data, etag, err := s.dav.Get(ctx, m.Href, maxObjectSize)
		if err != nil {
			if fatal(ctx, err) {
				return err
			}
			continue
		}
		if etag != "" && f.etag != "" && !dav.SameETag(etag, f.etag) {
			continue // changed in between
		}
		if bytes.Equal(data, f.data) {
			s.exact = exactMultiget
		} else {
			s.exact = exactGET
		}
		return nil
	}
	return nil
}

func (s *session) fetchByGET(ctx context.Context, col collection, c sources.Container, batch []member) (int, error) {
	failed := 0
	for _, m := range batch {
		data, etag, err := s.dav.Get(ctx, m.Href, maxObjectSize)
		if err != nil {
			if fatal(ctx, err) {
				return failed, err
			}
			s.st.Fail(col.Name+"/"+m.ID, err)
			failed++
			continue
		}
		if err := s.store(ctx, c, m, fetched{data: data, etag: etag}); err != nil {
			return failed, err
		}
	}
	return failed, nil
}

// maxObjectSize bounds one calendar object held in memory. Real objects are
// kilobytes; anything this large is recorded as a skip, not loaded.
const maxObjectSize = 32 << 20

// store writes the server's bytes unchanged and records the item.
func (s *session) store(ctx context.Context, c sources.Container, m member, f fetched) error {
	if len(f.data) > maxObjectSize {
		s.st.Skip(c.Name()+"/"+m.ID, fmt.Sprintf("too-large: over %d bytes", maxObjectSize))
		return nil
	}
	info := scanICS(f.data)
	meta := itemMeta{Href: m.Href, ETag: f.etag, UID: info.UID, Component: info.Component, Malformed: info.Malformed}
	if meta.ETag == "" {
		meta.ETag = m.ETag
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("calendar: %s: meta: %w", m.Href, err)
	}
	body, err := c.PutBody(ctx, bytes.NewReader(f.data))
	if err != nil {
		return fmt.Errorf("calendar: store %s: %w", m.Href, err)
	}
	c.Put(sources.Item{ID: m.ID, Hash: body.Hash, Size: body.Size, Meta: mj})
	return nil
}

func multigetBody(hrefs []string) []byte {
	var b bytes.Buffer
	b.WriteString(dav.XMLHeader + `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>`)
	for _, h := range hrefs {
		b.WriteString("<D:href>")
		xml.EscapeText(&b, []byte(h))
		b.WriteString("</D:href>")
	}
	b.WriteString(`</C:calendar-multiget>`)
	return b.Bytes()
}

// fatal errors end the collection (and, for 401, the user's run).
func fatal(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, sources.ErrUnauthorized)
}

func storedETag(it sources.Item) string {
	var m itemMeta
	if json.Unmarshal(it.Meta, &m) != nil {
		return ""
	}
	return m.ETag
}
