package y360emu

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// uploadLinkLifetime: an upload URL dies if unused for 30 minutes (docs §3).
const uploadLinkLifetime = 30 * time.Minute

func (s *Server) registerDiskAPI() {
	s.handle("GET /v1/disk", s.handleDiskInfo)
	s.handle("GET /v1/disk/{$}", s.handleDiskInfo)
	s.handle("GET /v1/disk/resources", s.handleDiskMeta)
	s.handle("PUT /v1/disk/resources", s.handleDiskMkdir)
	s.handle("DELETE /v1/disk/resources", s.handleDiskDelete)
	s.handle("PATCH /v1/disk/resources", s.handleDiskPatch)
	s.handle("GET /v1/disk/resources/files", s.handleDiskFiles)
	s.handle("GET /v1/disk/resources/download", s.handleDiskDownloadLink)
	s.handle("GET /v1/disk/resources/upload", s.handleDiskUploadLink)
	s.handle("POST /v1/disk/resources/move", func(w http.ResponseWriter, r *http.Request) { s.handleDiskTransfer(w, r, false) })
	s.handle("POST /v1/disk/resources/copy", func(w http.ResponseWriter, r *http.Request) { s.handleDiskTransfer(w, r, true) })
	s.handle("GET /v1/disk/operations/{id}", s.handleDiskOperation)
	s.handle("GET /v1/disk/trash/resources", s.handleTrashList)
	s.handle("DELETE /v1/disk/trash/resources", s.handleTrashDelete)
	s.handle("PUT /v1/disk/trash/resources/restore", s.handleTrashRestore)
}

// diskAuth validates the user token and that it has one of scopes; it
// answers 401/403 itself and returns the disk key.
func (s *Server) diskAuth(w http.ResponseWriter, r *http.Request, scopes ...string) (string, bool) {
	c, ok := s.userAuth(w, r, "")
	if !ok {
		return "", false
	}
	for _, sc := range scopes {
		if c.HasScope(sc) {
			return s.diskKey(c.Subject), true
		}
	}
	s.writeStatusError(w, r.URL.Path, http.StatusForbidden)
	return "", false
}

// diskParams are the common query parameters, validated.
type diskParams struct {
	limit, offset int
	sort          string
	fields        *fieldSel
}

func parseDiskParams(q url.Values, defSort string) (diskParams, error) {
	p := diskParams{limit: 20, sort: q.Get("sort"), fields: parseFields(q.Get("fields"))}
	for _, f := range []struct {
		name string
		v    *int
	}{{"limit", &p.limit}, {"offset", &p.offset}} {
		if s := q.Get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return p, errDiskField(f.name, "must be a non-negative integer")
			}
			*f.v = n
		}
	}
	if p.sort == "" {
		p.sort = defSort
	}
	if err := sortDiskEntries(nil, p.sort); err != nil {
		return p, err
	}
	return p, nil
}

func boolParam(q url.Values, name string) (bool, error) {
	switch strings.ToLower(q.Get(name)) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, errDiskField(name, "must be true or false")
}

// page returns the [offset, offset+limit) window of es.
func page(es []diskEntry, offset, limit int) []diskEntry {
	if offset >= len(es) {
		return nil
	}
	end := min(len(es), offset+limit)
	return es[offset:end]
}

// link is the service's Link object pointing at a resource or an operation.
func link(r *http.Request, p string) map[string]any {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return map[string]any{"href": scheme + "://" + r.Host + p, "method": "GET", "templated": false}
}

func resourceLink(r *http.Request, p string) map[string]any {
	return link(r, "/v1/disk/resources?path="+url.QueryEscape(p))
}

func (ds *diskState) newOpLocked(op *diskOp) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ds.ops[id] = op
	return id
}

func (s *Server) handleDiskInfo(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskInfo, scopeDiskRead, scopeDiskWrite)
	if !ok {
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	ud := ds.userDiskLocked(key, s.now())
	used, trash := ud.sizes()
	total := ds.totalSpaceLocked(key, used)
	rev, created := ud.revision, ud.created
	ds.mu.Unlock()
	login, display := key, key
	if u, ok := s.User(key); ok {
		login, display = u.Nickname, strings.TrimSpace(u.First+" "+u.Last)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"total_space": total, "used_space": used, "trash_size": trash,
		"max_file_size": int64(50 << 30), "paid_max_file_size": int64(50 << 30), "is_paid": true,
		"reg_time": diskTime(created), "revision": rev, "unlimited_autoupload_enabled": false,
		"system_folders": map[string]string{
			"applications": "disk:/Приложения", "downloads": "disk:/Загрузки/", "photostream": "disk:/Фотокамера/",
			"screenshots": "disk:/Скриншоты/", "social": "disk:/Социальные сети/",
		},
		"user": map[string]any{"uid": key, "login": login, "display_name": display, "country": "ru"},
	})
}

// handleDiskMeta serves GET /v1/disk/resources: one resource, and for a
// folder its children in _embedded (paged, sorted, with total).
func (s *Server) handleDiskMeta(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskRead, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	names, err := parseDiskPath("path", q.Get("path"), "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	prm, err := parseDiskParams(q, "name")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	m, pend, err := s.renderTree(key, names, false, prm)
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	fillSums(pend)
	writeJSON(w, http.StatusOK, prm.fields.apply(m))
}

// renderTree renders the node at names (in the trash when trash is set)
// with, for folders, one page of children.
func (s *Server) renderTree(key string, names []string, trash bool, prm diskParams) (map[string]any, []pendingSums, error) {
	dl, _ := s.diskHosts()
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	scheme, root := "disk", ud.root
	if trash {
		scheme, root = "trash", ud.trash
	}
	p := joinDiskPath(names)
	if !trash && ds.takeLockLocked(faultKey(key, p)) {
		return nil, nil, errDiskLocked()
	}
	n := lookupIn(root, names)
	if n == nil {
		return nil, nil, errDiskNotFound()
	}
	var pend []pendingSums
	href := func(cp string, c *diskNode) string {
		if trash || c.dir {
			return ""
		}
		return s.diskHref(dl, key, cp, c, now.Add(ds.hrefLife))
	}
	m := wireNode(scheme, p, n, href(p, n), &pend)
	if n == root {
		m["name"] = scheme // the roots are "disk:/" and "trash:/"
	}
	if n.dir {
		es := make([]diskEntry, 0, len(n.children))
		for name, c := range n.children {
			es = append(es, diskEntry{strings.TrimSuffix(p, "/") + "/" + name, c})
		}
		_ = sortDiskEntries(es, prm.sort) // validated by parseDiskParams
		items := []any{}
		for _, e := range page(es, prm.offset, prm.limit) {
			items = append(items, wireNode(scheme, e.path, e.n, href(e.path, e.n), &pend))
		}
		m["_embedded"] = map[string]any{
			"items": items, "limit": prm.limit, "offset": prm.offset,
			"path": scheme + ":" + p, "sort": prm.sort, "total": len(es),
		}
	}
	return m, pend, nil
}

// handleDiskFiles serves the flat list of every file: {items, limit, offset},
// no total, alphabetical unless sort says otherwise.
func (s *Server) handleDiskFiles(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskRead, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	prm, err := parseDiskParams(q, "name")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	var media map[string]bool
	if mt := q.Get("media_type"); mt != "" {
		media = map[string]bool{}
		for _, t := range strings.Split(mt, ",") {
			media[strings.TrimSpace(t)] = true
		}
	}
	dl, _ := s.diskHosts()
	ds := s.disk()
	ds.mu.Lock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	es := ud.flatFiles()
	if media != nil || prm.sort != "name" {
		var sel []diskEntry
		for _, e := range es {
			if media == nil || media[diskMediaType(e.n.name)] {
				sel = append(sel, e)
			}
		}
		_ = sortDiskEntries(sel, prm.sort)
		es = sel
	}
	var pend []pendingSums
	items := []any{}
	for _, e := range page(es, prm.offset, prm.limit) {
		items = append(items, wireNode("disk", e.path, e.n, s.diskHref(dl, key, e.path, e.n, now.Add(ds.hrefLife)), &pend))
	}
	ds.mu.Unlock()
	fillSums(pend)
	writeJSON(w, http.StatusOK, prm.fields.apply(map[string]any{"items": items, "limit": prm.limit, "offset": prm.offset}))
}

// handleDiskDownloadLink answers {href, method, templated} for a file.
func (s *Server) handleDiskDownloadLink(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskRead, scopeDiskWrite)
	if !ok {
		return
	}
	names, err := parseDiskPath("path", r.URL.Query().Get("path"), "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	dl, _ := s.diskHosts()
	ds := s.disk()
	ds.mu.Lock()
	now := s.now()
	p := joinDiskPath(names)
	n := ds.userDiskLocked(key, now).lookup(names)
	switch {
	case ds.takeLockLocked(faultKey(key, p)):
		err = errDiskLocked()
	case n == nil:
		err = errDiskNotFound()
	case n.dir:
		// The real service zips folders; the emulator does not.
		err = errDiskField("path", "folder download (zip) is not emulated")
	}
	var href string
	if err == nil {
		href = s.diskHref(dl, key, p, n, now.Add(ds.hrefLife))
	}
	ds.mu.Unlock()
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"href": href, "method": "GET", "templated": false})
}

// handleDiskUploadLink answers {operation_id, href, method:"PUT", templated}.
func (s *Server) handleDiskUploadLink(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	names, err := parseDiskPath("path", q.Get("path"), "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	overwrite, err := boolParam(q, "overwrite")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	_, ul := s.diskHosts()
	ds := s.disk()
	ds.mu.Lock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	var id string
	parent, err := ud.parent(names)
	if err == nil {
		if old := parent.children[names[len(names)-1]]; old != nil {
			switch {
			case old.dir:
				err = errDiskDirExists("disk:" + joinDiskPath(names))
			case !overwrite:
				err = errDiskExists("disk:" + joinDiskPath(names))
			}
		}
	}
	if err == nil && ds.fullLocked(key, ud) {
		err = errDiskNoSpace()
	}
	if err == nil {
		id = ds.newOpLocked(&diskOp{status: "in-progress", key: key, path: joinDiskPath(names),
			overwrite: overwrite, expires: now.Add(uploadLinkLifetime)})
	}
	ds.mu.Unlock()
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"operation_id": id, "href": ul + diskUploadPrefix + id, "method": "PUT", "templated": false,
	})
}

// handleDiskMkdir creates one folder: 201 + Link, or 409 with the real names.
func (s *Server) handleDiskMkdir(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskWrite)
	if !ok {
		return
	}
	names, err := parseDiskPath("path", r.URL.Query().Get("path"), "disk")
	if err == nil && len(names) == 0 {
		err = errDiskDirExists("disk:/")
	}
	if err == nil {
		ds := s.disk()
		ds.mu.Lock()
		err = ds.userDiskLocked(key, s.now()).mkdir(names, s.now())
		ds.mu.Unlock()
	}
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resourceLink(r, "disk:"+joinDiskPath(names)))
}

// handleDiskDelete moves a resource to the trash (or deletes it with
// permanently=true): 204 for a file, 202 + operation for a folder.
func (s *Server) handleDiskDelete(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	names, err := parseDiskPath("path", q.Get("path"), "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	permanently, err := boolParam(q, "permanently")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	var opID string
	if ds.takeLockLocked(faultKey(key, joinDiskPath(names))) {
		err = errDiskLocked()
	} else if n := ud.lookup(names); n != nil && n.dir {
		if err = ud.remove(names, permanently, now); err == nil {
			opID = ds.newOpLocked(&diskOp{status: "success"})
		}
	} else {
		err = ud.remove(names, permanently, now)
	}
	ds.mu.Unlock()
	switch {
	case err != nil:
		writeDiskErr(w, err)
	case opID != "":
		writeJSON(w, http.StatusAccepted, link(r, "/v1/disk/operations/"+opID))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleDiskTransfer serves move and copy: 201 + Link for files, 202 +
// operation for folders (done at once, as a finished async operation).
func (s *Server) handleDiskTransfer(w http.ResponseWriter, r *http.Request, copying bool) {
	key, ok := s.diskAuth(w, r, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	from, err := parseDiskPath("from", q.Get("from"), "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	to, err := parseDiskPath("path", q.Get("path"), "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	overwrite, err := boolParam(q, "overwrite")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	var opID string
	if !copying && ds.takeLockLocked(faultKey(key, joinDiskPath(from))) {
		err = errDiskLocked()
	} else {
		src := ud.lookup(from)
		if err = ud.transfer(from, to, overwrite, copying, now); err == nil && src.dir {
			opID = ds.newOpLocked(&diskOp{status: "success"})
		}
	}
	ds.mu.Unlock()
	switch {
	case err != nil:
		writeDiskErr(w, err)
	case opID != "":
		writeJSON(w, http.StatusAccepted, link(r, "/v1/disk/operations/"+opID))
	default:
		writeJSON(w, http.StatusCreated, resourceLink(r, "disk:"+joinDiskPath(to)))
	}
}

func (s *Server) handleDiskOperation(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskRead, scopeDiskWrite, scopeDiskInfo)
	if !ok {
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	op := ds.ops[r.PathValue("id")]
	var status string
	if op != nil && (op.key == "" || op.key == key) {
		ds.pollUploadLocked(op, s.now())
		status = op.status
	}
	ds.mu.Unlock()
	if status == "" {
		writeDiskErr(w, errDiskOpNotFound())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}

// trashPath parses an optional trash path (default: the trash root).
func trashPath(q url.Values) ([]string, error) {
	p := q.Get("path")
	if p == "" {
		return nil, nil
	}
	return parseDiskPath("path", p, "trash")
}

func (s *Server) handleTrashList(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskRead, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	names, err := trashPath(q)
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	prm, err := parseDiskParams(q, "name")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	m, pend, err := s.renderTree(key, names, true, prm)
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	fillSums(pend)
	writeJSON(w, http.StatusOK, prm.fields.apply(m))
}

// handleTrashDelete removes one trash entry, or empties the trash.
func (s *Server) handleTrashDelete(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskWrite)
	if !ok {
		return
	}
	names, err := trashPath(r.URL.Query())
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	ud := ds.userDiskLocked(key, s.now())
	switch {
	case len(names) == 0:
		ud.trash.children = map[string]*diskNode{}
	case len(names) > 1 || ud.trash.children[names[0]] == nil:
		err = errDiskNotFound()
	default:
		delete(ud.trash.children, names[0])
	}
	ud.touch()
	ds.mu.Unlock()
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTrashRestore puts a trash entry back where it was (or under name).
func (s *Server) handleTrashRestore(w http.ResponseWriter, r *http.Request) {
	key, ok := s.diskAuth(w, r, scopeDiskWrite)
	if !ok {
		return
	}
	q := r.URL.Query()
	names, err := trashPath(q)
	if err == nil && len(names) != 1 {
		err = errDiskField("path", "must name one entry of the trash")
	}
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	overwrite, err := boolParam(q, "overwrite")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	name := q.Get("name")
	if name != "" {
		if n, err := parseDiskPath("name", name, "disk"); err != nil || len(n) != 1 {
			writeDiskErr(w, errDiskField("name", "must be a single name"))
			return
		}
	}
	ds := s.disk()
	ds.mu.Lock()
	restored, err := ds.userDiskLocked(key, s.now()).restore(names[0], name, overwrite, s.now())
	ds.mu.Unlock()
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, resourceLink(r, restored))
}
