package contacts

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/internal/dav"
)

// RestoreContainer implements sources.Restorer: it PUTs the stored vCards
// of one backed-up address book, bytes unchanged and streamed from the
// repository, to <book>/<item ID>. In place the book is the original path
// below the user's home (recreated with an extended MKCOL when gone);
// otherwise "restored-<hash of Under and Original>", displayed as
// "<Under> — <original display name>", so a rerun continues there.
//
// What is already there is learnt from one PROPFIND (hrefs and etags).
// Policies, as for calendars:
//   - skip: a listed name is left alone; else PUT If-None-Match: * (412, or
//     409 no-uid-conflict, means "already there"). Reruns write nothing.
//   - replace: overwrite a listed name with If-Match: <listed etag>; a card
//     still at its backed-up href and etag is not rewritten.
//   - copy: always write; a taken name becomes "<stem>-restored-<n>.vcf"
//     with a derived UID (a book holds one card per UID), the only bytes a
//     restore ever changes.
func (s *Source) RestoreContainer(ctx context.Context, u sources.User, tok sources.TokenSource, t sources.RestoreTarget,
	items []sources.RestoreItem, fail func(item string, err error)) (int, error) {
	policy := t.Policy
	if policy == "" {
		policy = sources.PolicySkip
	}
	switch policy {
	case sources.PolicySkip, sources.PolicyCopy, sources.PolicyReplace:
	default:
		return 0, fmt.Errorf("contacts: restore %s: unknown collision policy %q", t.Original, policy)
	}
	ss, err := s.newSession(u, tok)
	if err != nil {
		return 0, err
	}
	wrap := func(err error) error { return fmt.Errorf("contacts: restore %s for %s: %w", t.Original, u.Email, err) }
	b, fresh, err := ss.destination(ctx, t)
	if err != nil {
		return 0, wrap(err)
	}
	listed := map[string]dav.Member{}
	if !fresh {
		if listed, err = ss.listBook(ctx, b); err != nil {
			return 0, wrap(err)
		}
	}
	r := &restorer{ss: ss, book: b, policy: policy, listed: listed, sameAccount: t.Under == ""}
	workers := s.cfg.RestoreWorkers
	if workers == 0 {
		workers = defaultRestoreWorkers
	}
	stops := func(err error) bool { return dav.IsStatus(err, http.StatusUnauthorized) }
	n, err := sources.RestoreEach(ctx, items, workers, r.one, stops, fail)
	if err != nil {
		return n, wrap(err)
	}
	return n, nil
}

// destination finds or creates the book t restores into; fresh reports
// that this call created it (nothing to list).
func (s *session) destination(ctx context.Context, t sources.RestoreTarget) (book, bool, error) {
	home, err := s.findHome(ctx)
	if err != nil {
		return book{}, false, err
	}
	books, err := s.listBooks(ctx, home)
	if err != nil {
		return book{}, false, err
	}
	var prev cursor
	_ = json.Unmarshal(t.State, &prev) // no state: the names below fall back to the container name
	seg, display := t.Original, prev.DisplayName
	if t.Under != "" {
		seg = dav.RestoredSegment(t.Under, t.Original)
		orig := prev.DisplayName
		if orig == "" {
			orig = t.Original
		}
		display = t.Under + " — " + orig
	}
	for _, b := range books {
		if b.Name == seg {
			return b, false, nil
		}
	}
	p := dav.CleanDir(home + seg)
	err = s.dav.Exec(ctx, "MKCOL", dav.EscapePath(p), mkcolBody(display))
	switch {
	case err == nil:
		return book{Coll: dav.Coll{Name: seg, Href: dav.EscapePath(p), Path: p}, DisplayName: display}, true, nil
	case dav.IsStatus(err, http.StatusMethodNotAllowed) || dav.IsStatus(err, http.StatusConflict) || dav.IsStatus(err, http.StatusForbidden):
		// Maybe created meanwhile (a concurrent rerun): use it if it is a book now.
		if books, lerr := s.listBooks(ctx, home); lerr == nil {
			for _, b := range books {
				if b.Name == seg {
					return b, false, nil
				}
			}
		}
	}
	return book{}, false, fmt.Errorf("create address book %s: %w", p, err)
}

// mkcolBody is an extended MKCOL (RFC 5689) creating an address book
// (RFC 6352 §6.3.1), which is how Radicale makes one.
func mkcolBody(displayName string) []byte {
	var b bytes.Buffer
	b.WriteString(dav.XMLHeader + `<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>` +
		`<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>`)
	if displayName != "" {
		b.WriteString("<D:displayname>")
		xml.EscapeText(&b, []byte(displayName))
		b.WriteString("</D:displayname>")
	}
	b.WriteString(`</D:prop></D:set></D:mkcol>`)
	return b.Bytes()
}

// restorer writes the items of one container into one book; listed is
// shared by the workers under mu.
type restorer struct {
	ss          *session
	book        book
	policy      string
	sameAccount bool // in place: a backed-up etag still listed means unchanged

	mu     sync.Mutex
	listed map[string]dav.Member // by name: listed, written or reserved by us
}

func (r *restorer) one(ctx context.Context, it sources.RestoreItem) (bool, error) {
	if err := checkFileName(it.ID); err != nil {
		return false, err // never PUT outside the book
	}
	m := parseMeta(it.Meta)
	r.mu.Lock()
	have, taken := r.listed[it.ID]
	r.mu.Unlock()
	switch {
	case r.policy == sources.PolicySkip && taken:
		return false, nil
	case r.policy == sources.PolicyReplace && taken:
		if r.sameAccount && dav.SameETag(have.ETag, m.ETag) {
			return false, nil // still the backed-up version
		}
		return r.put(ctx, it, it.ID, dav.PutCond{IfMatch: have.ETag})
	case r.policy == sources.PolicyCopy && taken:
		return r.copy(ctx, it, m)
	}
	wrote, err := r.put(ctx, it, it.ID, dav.PutCond{IfNoneMatch: true})
	if r.policy == sources.PolicySkip && (dav.IsStatus(err, http.StatusPreconditionFailed) || dav.IsCondition(err, "no-uid-conflict")) {
		return false, nil // appeared meanwhile, or its UID is there under another name
	}
	return wrote, err
}

// put streams the stored bytes to name.
func (r *restorer) put(ctx context.Context, it sources.RestoreItem, name string, cond dav.PutCond) (bool, error) {
	open := func() (io.ReadCloser, error) { return it.Open(ctx) }
	etag, err := r.ss.dav.Put(ctx, r.href(name), "text/vcard; charset=utf-8", it.Size, open, cond)
	if err != nil {
		return false, err
	}
	r.note(name, etag)
	return true, nil
}

// copy writes the card under a free "-restored-<n>" name with a derived
// UID. The body is read into memory for the UID rewrite (bounded by
// max_contact_size, which the backup enforced).
func (r *restorer) copy(ctx context.Context, it sources.RestoreItem, m itemMeta) (bool, error) {
	rc, err := it.Open(ctx)
	if err != nil {
		return false, fmt.Errorf("open stored vCard: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, r.ss.cfg.MaxContactSize+1))
	rc.Close()
	if err != nil {
		return false, fmt.Errorf("read stored vCard: %w", err)
	}
	if int64(len(data)) > r.ss.cfg.MaxContactSize {
		return false, fmt.Errorf("stored vCard is over max_contact_size %d bytes", r.ss.cfg.MaxContactSize)
	}
	r.mu.Lock()
	name := dav.CopyName(it.ID, func(n string) bool { _, ok := r.listed[n]; return ok })
	r.listed[name] = dav.Member{ID: name} // reserved
	r.mu.Unlock()
	if m.UID != "" {
		data = dav.RewriteUID(data, m.UID, dav.CopyUID(m.UID, name))
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	etag, err := r.ss.dav.Put(ctx, r.href(name), "text/vcard; charset=utf-8", int64(len(data)), open, dav.PutCond{IfNoneMatch: true})
	if err != nil {
		return false, err
	}
	r.note(name, etag)
	return true, nil
}

func (r *restorer) note(name, etag string) {
	r.mu.Lock()
	r.listed[name] = dav.Member{ID: name, Href: r.href(name), ETag: etag}
	r.mu.Unlock()
}

func (r *restorer) href(name string) string { return dav.EscapePath(r.book.Path + name) }
