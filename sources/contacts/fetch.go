package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/internal/dav"
)

// fetch GETs every member whose etag differs from the stored item, one at a
// time, streaming each body into the repository (a 5 MB vCard with a photo
// is never held in memory). It commits mid whenever the container is due
// and returns how many contacts failed; an error ends the book.
//
// Why GET and not addressbook-multiget: a multiget answer carries many
// bodies inside one XML document, which our decoder must hold per
// <response>; one GET per changed contact keeps memory flat and the bytes
// exactly as served (no XML round trip), at one request per change.
func (s *session) fetch(ctx context.Context, b book, c sources.Container, members []dav.Member, mid cursor) (int, error) {
	failed := 0
	for _, m := range members {
		if it, ok := c.Get(m.ID); ok && m.ETag != "" && dav.SameETag(storedETag(it), m.ETag) {
			continue
		}
		if err := checkFileName(m.ID); err != nil {
			// A member below a sub-collection: not an address-book object,
			// and restore could not PUT it back to the same place.
			s.st.Skip(b.Name+"/"+m.ID, err.Error())
			continue
		}
		if err := s.fetchOne(ctx, c, m); err != nil {
			if ctx.Err() != nil || errors.Is(err, sources.ErrUnauthorized) {
				return failed, err
			}
			if errors.Is(err, sources.ErrNotFound) {
				// Deleted between the listing and the GET: gone, not failed.
				// The ctag committed is the one from before, so the next run
				// lists the book again and confirms.
				if _, ok := c.Get(m.ID); ok {
					c.Delete(m.ID)
				}
				continue
			}
			s.st.Fail(b.Name+"/"+m.ID, err)
			failed++
		}
		if c.Due() {
			if err := s.commit(ctx, c, mid); err != nil {
				return failed, err
			}
		}
	}
	return failed, nil
}

// errTooLarge is returned by sizeLimit once the body passes the limit.
var errTooLarge = errors.New("too large")

// fetchOne GETs one vCard and records it. Bytes are stored exactly as the
// server sent them; only UID and the BEGIN/END frame are read on the way.
func (s *session) fetchOne(ctx context.Context, c sources.Container, m dav.Member) error {
	resp, err := s.dav.Do(ctx, http.MethodGet, m.Href, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	limit := s.cfg.MaxContactSize
	if resp.ContentLength > limit {
		s.st.Skip(c.Name()+"/"+m.ID, fmt.Sprintf("too-large: %d bytes, over max_contact_size %d", resp.ContentLength, limit))
		return nil
	}
	scan := &vcardScan{}
	body, err := c.PutBody(ctx, io.TeeReader(&sizeLimit{r: resp.Body, n: limit}, scan))
	if errors.Is(err, errTooLarge) {
		s.st.Skip(c.Name()+"/"+m.ID, fmt.Sprintf("too-large: over max_contact_size %d bytes", limit))
		return nil
	}
	if err != nil {
		return fmt.Errorf("contacts: GET %s: %w", m.Href, err)
	}
	info := scan.finish()
	meta := itemMeta{Href: m.Href, ETag: resp.Header.Get("ETag"), UID: info.UID, Malformed: info.Malformed}
	if meta.ETag == "" {
		meta.ETag = m.ETag
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("contacts: %s: meta: %w", m.Href, err)
	}
	c.Put(sources.Item{ID: m.ID, Hash: body.Hash, Size: body.Size, Meta: mj})
	return nil
}

// sizeLimit reads at most n bytes and fails with errTooLarge after that.
type sizeLimit struct {
	r io.Reader
	n int64
}

func (l *sizeLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	if l.n < 0 {
		return k, errTooLarge
	}
	return k, err
}

func storedETag(it sources.Item) string {
	var m itemMeta
	if json.Unmarshal(it.Meta, &m) != nil {
		return ""
	}
	return m.ETag
}

func parseMeta(raw json.RawMessage) itemMeta {
	var m itemMeta
	_ = json.Unmarshal(raw, &m) // a bad meta leaves the zero value: href derived from the ID
	return m
}
