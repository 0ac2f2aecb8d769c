package calendar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/y360backup/y360backup/sources"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

var _ sources.Restorer = (*Source)(nil)

// RestoreContainer implements sources.Restorer: it writes items (objects of
// one backed-up collection) into the user's account by CalDAV PUT, the
// stored bytes unchanged, and returns how many objects it wrote.
//
// The destination is found or created by destination (restore_dest.go).
// Objects go to <collection>/<item ID> (the object name they had), except
// copies (see restore_copy.go). What is already there is learnt from one
// PROPFIND listing (hrefs and etags) and, only when the destination holds
// objects under other names, their UIDs (calendar-multiget): an object is
// "already there" when its name or its UID is.
//
// Policies:
//   - skip: leave what is there; PUT with If-None-Match: * so nothing that
//     appeared meanwhile is clobbered (412, or 409 no-uid-conflict, counts
//     as already there). Reruns write nothing twice.
//   - replace: overwrite the object with that name (or UID) with
//     If-Match: <listed etag>; an object still at its backed-up href with
//     its backed-up etag is unchanged and not rewritten.
//   - copy: always write; a taken name gets "-restored-<n>" and, when the
//     UID is taken too, the copy gets a derived UID (the only bytes a
//     restore ever changes).
//
// Per-object failures go to fail and the restore goes on; the error return
// is for the container as a whole (discovery, creating the collection,
// listing, authentication after one re-mint, ctx).
func (s *Source) RestoreContainer(ctx context.Context, u sources.User, tok sources.TokenSource, t sources.RestoreTarget,
	items []sources.RestoreItem, fail func(item string, err error)) (int, error) {
	policy := t.Policy
	if policy == "" {
		policy = sources.PolicySkip
	}
	switch policy {
	case sources.PolicySkip, sources.PolicyCopy, sources.PolicyReplace:
	default:
		return 0, fmt.Errorf("calendar: restore %s: unknown collision policy %q", t.Original, policy)
	}
	ss, err := s.newSession(u, tok)
	if err != nil {
		return 0, err
	}
	wrap := func(err error) error { return fmt.Errorf("calendar: restore %s for %s: %w", t.Original, u.Email, err) }
	home, err := ss.findHome(ctx)
	if err != nil {
		return 0, wrap(err)
	}
	cols, err := ss.listCollections(ctx, home)
	if err != nil {
		return 0, wrap(err)
	}
	col, fresh, err := ss.destination(ctx, home, cols, t, items)
	if err != nil {
		return 0, wrap(err)
	}
	listed := map[string]member{}
	if !fresh {
		if listed, err = ss.dav.ListMembers(ctx, col.coll()); err != nil {
			return 0, wrap(err)
		}
	}
	r := &restorer{ss: ss, col: col, policy: policy, listed: listed, uids: map[string]string{}, uidOf: map[string]string{}, ours: map[string]bool{}}
	for _, it := range items {
		r.ours[it.ID] = true
	}
	workers := s.cfg.RestoreWorkers
	if workers == 0 {
		workers = defaultRestoreWorkers
	}
	n, err := r.run(ctx, items, workers, fail)
	if err != nil {
		return n, wrap(err)
	}
	return n, nil
}

// restorer writes the items of one container into one collection. Its maps
// are shared by the workers under mu.
type restorer struct {
	ss     *session
	col    collection
	policy string

	mu     sync.Mutex
	listed map[string]member // by object name: listed, written or reserved by us
	ours   map[string]bool   // object names of the items being restored
	uids   map[string]string // UID → object name, for objects whose UID is known
	uidOf  map[string]string // object name → UID, the same pairs the other way
	// uidsLoaded says the UIDs of the listed objects the policy needs are in
	// uids (loading costs calendar-multigets, so it happens only when an
	// item cannot be settled by its name).
	uidsLoaded bool
	loadErr    error
}

// run restores items with up to workers PUTs in flight, in item order.
func (r *restorer) run(ctx context.Context, items []sources.RestoreItem, workers int, fail func(string, error)) (int, error) {
	return sources.RestoreEach(ctx, items, workers, r.restoreOne, func(err error) bool {
		return fatal(ctx, err) || errors.Is(err, errRestoreContainer)
	}, fail)
}

// errRestoreContainer marks an error that ends the container's restore
// (not one object's): e.g. the destination's UIDs could not be read.
var errRestoreContainer = errors.New("container restore stopped")

// restoreOne settles one item under the policy; wrote says a PUT succeeded.
func (r *restorer) restoreOne(ctx context.Context, it sources.RestoreItem) (bool, error) {
	m := parseItemMeta(it.Meta)
	switch r.policy {
	case sources.PolicyReplace:
		return r.replace(ctx, it, m)
	case sources.PolicyCopy:
		return r.copy(ctx, it, m)
	default:
		return r.skip(ctx, it, m)
	}
}

func (r *restorer) skip(ctx context.Context, it sources.RestoreItem, m itemMeta) (bool, error) {
	if r.has(it.ID) {
		return false, nil
	}
	if m.UID != "" {
		if _, ok, err := r.uidOwner(ctx, m.UID); err != nil || ok {
			return false, err
		}
	}
	data, err := readItem(ctx, it)
	if err != nil {
		return false, err
	}
	etag, err := putObject(ctx, r.ss.dav, r.href(it.ID), data, dav.PutCond{IfNoneMatch: true})
	if dav.IsStatus(err, http.StatusPreconditionFailed) || dav.IsCondition(err, "no-uid-conflict") {
		return false, nil // written meanwhile (or by the cut-off run): leave it
	}
	if err != nil {
		return false, err
	}
	r.note(it.ID, etag, m.UID)
	return true, nil
}

func (r *restorer) replace(ctx context.Context, it sources.RestoreItem, m itemMeta) (bool, error) {
	name := it.ID
	old, exists := r.get(name)
	if !exists && m.UID != "" {
		owner, ok, err := r.uidOwner(ctx, m.UID)
		if err != nil {
			return false, err
		}
		if ok {
			// The same event under another name: overwrite that one (a second
			// object with this UID would be refused, RFC 4791 §5.3.2.1).
			name = owner
			old, exists = r.get(name)
		}
	}
	if exists && r.unchanged(name, old, m) {
		return false, nil
	}
	data, err := readItem(ctx, it)
	if err != nil {
		return false, err
	}
	cond := dav.PutCond{}
	if exists && old.ETag != "" {
		cond.IfMatch = old.ETag
	}
	etag, err := putObject(ctx, r.ss.dav, r.href(name), data, cond)
	if dav.IsStatus(err, http.StatusPreconditionFailed) {
		return false, fmt.Errorf("%s changed on the server while restoring (If-Match %s failed); left as it is: %w", name, old.ETag, err)
	}
	if err != nil {
		return false, err
	}
	r.note(name, etag, m.UID)
	return true, nil
}

// unchanged reports that the listed object at name is the very resource
// the item was backed up from, in the version backed up: same href (so
// same account and collection) and same etag. Etags are only comparable
// for one resource, hence the href check.
func (r *restorer) unchanged(name string, listed member, m itemMeta) bool {
	if m.Href == "" || m.ETag == "" || !dav.SameETag(listed.ETag, m.ETag) {
		return false
	}
	p, err := dav.HrefPath(m.Href)
	return err == nil && p == r.col.Path+name
}

// maxCopyTries bounds the names tried when others keep taking them.
const maxCopyTries = 5

func (r *restorer) copy(ctx context.Context, it sources.RestoreItem, m itemMeta) (bool, error) {
	data, err := readItem(ctx, it)
	if err != nil {
		return false, err
	}
	uidTaken := false
	if m.UID != "" {
		if _, uidTaken, err = r.uidOwner(ctx, m.UID); err != nil {
			return false, err
		}
	}
	name := r.reserve(it.ID)
	for try := 1; ; try++ {
		body := data
		if uidTaken {
			body = dav.RewriteUID(data, m.UID, dav.CopyUID(m.UID, name))
		}
		etag, err := putObject(ctx, r.ss.dav, r.href(name), body, dav.PutCond{IfNoneMatch: true})
		switch {
		case err == nil:
			uid := m.UID
			if uidTaken {
				uid = dav.CopyUID(m.UID, name)
			}
			r.note(name, etag, uid)
			return true, nil
		case try == maxCopyTries:
			return false, err
		case dav.IsStatus(err, http.StatusPreconditionFailed):
			name = r.reserve(it.ID) // the name was taken meanwhile
		case dav.IsCondition(err, "no-uid-conflict") && !uidTaken && m.UID != "":
			uidTaken = true // the UID appeared meanwhile
		default:
			return false, err
		}
	}
}

// reserve claims the object name for a copy of id: id itself while free,
// else the next free copyName.
func (r *restorer) reserve(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := id
	if _, taken := r.listed[name]; taken {
		name = dav.CopyName(id, func(n string) bool { _, ok := r.listed[n]; return ok })
	}
	r.listed[name] = member{ID: name}
	return name
}

func (r *restorer) has(name string) bool {
	_, ok := r.get(name)
	return ok
}

func (r *restorer) get(name string) (member, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.listed[name]
	return m, ok
}

// note records an object this restore wrote.
func (r *restorer) note(name, etag, uid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed[name] = member{ID: name, Href: r.href(name), ETag: etag}
	if uid != "" {
		r.uids[uid], r.uidOf[name] = name, uid
	}
}

func (r *restorer) href(name string) string { return dav.EscapePath(r.col.Path + name) }

// uidOwner returns the name of the destination object holding uid, loading
// the UIDs of the listed objects on first use. Skip and replace settle
// objects that have one of our names by that name, so they load only the
// others; copy needs every UID. No other objects, nothing to load.
func (r *restorer) uidOwner(ctx context.Context, uid string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.uidsLoaded {
		r.loadErr = r.loadUIDsLocked(ctx)
		r.uidsLoaded = r.loadErr == nil || !fatal(ctx, r.loadErr)
	}
	if r.loadErr != nil {
		return "", false, r.loadErr
	}
	name, ok := r.uids[uid]
	return name, ok, nil
}

func (r *restorer) loadUIDsLocked(ctx context.Context) error {
	var todo []member
	for _, name := range dav.SortedKeys(r.listed) {
		m := r.listed[name]
		if m.Href == "" || r.policy != sources.PolicyCopy && r.ours[name] {
			continue // reserved by us, or settled by name
		}
		if _, known := r.uidOf[name]; !known {
			todo = append(todo, m)
		}
	}
	for len(todo) > 0 {
		n := min(r.ss.cfg.MultigetBatch, len(todo))
		got, _, err := r.ss.multiget(ctx, r.col, todo[:n])
		if err != nil {
			return fmt.Errorf("%w: read UIDs in %s: %w", errRestoreContainer, r.col.Name, err)
		}
		for id, f := range got {
			if info := scanICS(f.data); info.UID != "" {
				if _, dup := r.uids[info.UID]; !dup {
					r.uids[info.UID], r.uidOf[id] = id, info.UID
				}
			}
		}
		todo = todo[n:]
	}
	return nil
}

// readItem reads an item's stored bytes (calendar objects are small; the
// backup skipped any over maxObjectSize).
func readItem(ctx context.Context, it sources.RestoreItem) ([]byte, error) {
	rc, err := it.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stored object: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("read stored object: %w", err)
	}
	if len(data) > maxObjectSize {
		return nil, fmt.Errorf("stored object is over %d bytes", maxObjectSize)
	}
	return data, nil
}
