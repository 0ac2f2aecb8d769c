package y360emu

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"time"
)

// The write side of the Disk emulation, which restores exercise: the upload
// host, asynchronous uploads, per-user quotas (507) and custom properties
// (PATCH /v1/disk/resources).

// maxCustomProps is the documented limit on the custom_properties object:
// names, values and JSON punctuation together (docs: meta-add). The status
// the real API answers past it is not documented; 400 is our guess.
const maxCustomProps = 1024

func errDiskNoSpace() *diskErr {
	// The name is yadisk's; the real body's text is unconfirmed.
	return &diskErr{http.StatusInsufficientStorage, "InsufficientStorageError",
		"Недостаточно свободного места.", "Insufficient storage."}
}

var errUploadTooLarge = errors.New("upload larger than the limit")

// serveDiskUpload is the upload host: PUT of the body to an href from
// /v1/disk/resources/upload → 201 Created (202 Accepted with
// SetDiskUploadAsync, the file then appearing when its operation is polled
// to success). Like the real service it checks the free space before and
// after receiving the body (507). A body that breaks off leaves the link
// usable, so the client may PUT again; 413 and 507 fail its operation.
func (s *Server) serveDiskUpload(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, diskUploadPrefix)
	if !ok {
		s.writeStatusError(w, r.URL.Path, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPut {
		s.writeStatusError(w, r.URL.Path, http.StatusMethodNotAllowed)
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	op := ds.ops[id]
	usable := ds.uploadableLocked(op, s.now())
	limit, spool := ds.maxUpload, ds.spoolDir
	fits := !usable || r.ContentLength < 0 || ds.fitsLocked(op, r.ContentLength, s.now())
	if usable && (r.ContentLength > limit || !fits) {
		op.status = "failed"
	}
	ds.mu.Unlock()
	switch {
	case !usable:
		s.writeStatusError(w, r.URL.Path, http.StatusNotFound)
		return
	case r.ContentLength > limit:
		s.writeStatusError(w, r.URL.Path, http.StatusRequestEntityTooLarge)
		return
	case !fits:
		writeDiskErr(w, errDiskNoSpace())
		return
	}
	c, err := receiveUpload(r.Body, limit, spool)
	if err != nil {
		if errors.Is(err, errUploadTooLarge) {
			ds.mu.Lock()
			op.status = "failed"
			ds.mu.Unlock()
			s.writeStatusError(w, r.URL.Path, http.StatusRequestEntityTooLarge)
			return
		}
		s.writeStatusError(w, r.URL.Path, http.StatusBadRequest)
		return
	}
	ds.mu.Lock()
	now := s.now()
	switch {
	case !ds.uploadableLocked(op, now): // another PUT to the same href won
		ds.mu.Unlock()
		c.discard()
		s.writeStatusError(w, r.URL.Path, http.StatusNotFound)
		return
	case !ds.fitsLocked(op, c.size, now):
		op.status = "failed"
		err = errDiskNoSpace()
	case ds.asyncPolls > 0:
		op.pending, op.polls = c, ds.asyncPolls
		ds.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		return
	default:
		err = ds.commitUploadLocked(op, c, now)
	}
	ds.mu.Unlock()
	if err != nil {
		c.discard()
		writeDiskErr(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// uploadableLocked reports whether op is an upload link that can take a body now.
func (ds *diskState) uploadableLocked(op *diskOp, now time.Time) bool {
	return op != nil && op.key != "" && op.status == "in-progress" && op.pending == nil && now.Before(op.expires)
}

// receiveUpload reads an upload body into memory, or into a file in spool,
// hashing it on the way. More than limit bytes is errUploadTooLarge.
func receiveUpload(body io.Reader, limit int64, spool string) (*diskContent, error) {
	lr := io.LimitReader(body, limit+1)
	if spool == "" {
		data, err := io.ReadAll(lr)
		if err != nil {
			return nil, err
		}
		if int64(len(data)) > limit {
			return nil, errUploadTooLarge
		}
		return bytesContent(data), nil
	}
	f, err := os.CreateTemp(spool, "upload-*")
	if err != nil {
		return nil, err
	}
	m, h := md5.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(f, m, h), lr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = errUploadTooLarge
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	return spooledContent(f.Name(), n, hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(h.Sum(nil))), nil
}

// discard removes the spool file of content that was never stored.
func (c *diskContent) discard() {
	if c != nil && c.file != "" {
		_ = os.Remove(c.file)
	}
}

// commitUploadLocked puts c where op says and settles op's status.
func (ds *diskState) commitUploadLocked(op *diskOp, c *diskContent, now time.Time) error {
	names, err := parseDiskPath("path", op.path, "disk")
	if err == nil {
		err = ds.userDiskLocked(op.key, now).putFile(names, c, time.Time{}, now, op.overwrite)
	}
	if err != nil {
		op.status = "failed"
		return err
	}
	op.status = "success"
	ds.uploads[faultKey(op.key, op.path)]++
	return nil
}

// pollUploadLocked advances an asynchronous upload by one poll, storing
// the file (or failing the operation) on the last.
func (ds *diskState) pollUploadLocked(op *diskOp, now time.Time) {
	if op.pending == nil {
		return
	}
	if op.polls--; op.polls > 0 {
		return
	}
	c := op.pending
	op.pending = nil
	if err := ds.commitUploadLocked(op, c, now); err != nil {
		c.discard()
	}
}

// totalSpaceLocked is the total_space of key's Disk.
func (ds *diskState) totalSpaceLocked(key string, used int64) int64 {
	if q, ok := ds.quota[key]; ok {
		return q
	}
	return max(int64(diskTotalSpace), used)
}

// fullLocked reports whether key's Disk has no byte left. Files in the
// trash count, as they do at Yandex. Only Disks with a SetDiskTotalSpace
// quota are ever full.
func (ds *diskState) fullLocked(key string, ud *userDisk) bool {
	q, ok := ds.quota[key]
	if !ok {
		return false
	}
	used, trash := ud.sizes()
	return used+trash >= q
}

// fitsLocked reports whether size more bytes fit where op uploads (an
// overwritten file's bytes are freed).
func (ds *diskState) fitsLocked(op *diskOp, size int64, now time.Time) bool {
	q, ok := ds.quota[op.key]
	if !ok {
		return true
	}
	ud := ds.userDiskLocked(op.key, now)
	used, trash := ud.sizes()
	if names, err := parseDiskPath("path", op.path, "disk"); err == nil && op.overwrite {
		if old := ud.lookup(names); old != nil && !old.dir {
			used -= old.content.size
		}
	}
	return used+trash+size <= q
}

// handleDiskPatch serves PATCH /v1/disk/resources: body
// {"custom_properties": {...}} merges into the resource's properties (a
// null value deletes one; values are scalars; everything but
// custom_properties is ignored) and answers the resource.
func (s *Server) handleDiskPatch(w http.ResponseWriter, r *http.Request) {
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
	set, del, err := parsePropsPatch(r.Body)
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	dl, _ := s.diskHosts()
	ds := s.disk()
	ds.mu.Lock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	p := joinDiskPath(names)
	n := ud.lookup(names)
	switch {
	case ds.takeLockLocked(faultKey(key, p)):
		err = errDiskLocked()
	case n == nil:
		err = errDiskNotFound()
	}
	var m map[string]any
	var pend []pendingSums
	if err == nil {
		props := maps.Clone(n.props)
		if props == nil {
			props = map[string]any{}
		}
		maps.Copy(props, set)
		for _, k := range del {
			delete(props, k)
		}
		if enc, _ := json.Marshal(props); len(props) > 0 && len(enc) > maxCustomProps {
			err = errDiskField("custom_properties", fmt.Sprintf("longer than %d characters", maxCustomProps))
		} else {
			if len(props) == 0 {
				props = nil
			}
			n.props = props
			href := ""
			if !n.dir {
				href = s.diskHref(dl, key, p, n, now.Add(ds.hrefLife))
			}
			m = wireNode("disk", p, n, href, &pend)
			if n == ud.root {
				m["name"] = "disk"
			}
		}
	}
	ds.mu.Unlock()
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	fillSums(pend)
	writeJSON(w, http.StatusOK, parseFields(q.Get("fields")).apply(m))
}

// parsePropsPatch reads a PATCH body: the properties to set and to delete.
func parsePropsPatch(body io.Reader) (set map[string]any, del []string, err error) {
	raw, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return nil, nil, errDiskField("body", "could not be read")
	}
	var req struct {
		Props map[string]json.RawMessage `json:"custom_properties"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, nil, errDiskField("body", "must be a JSON object")
	}
	set = map[string]any{}
	for k, v := range req.Props {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, nil, errDiskField("custom_properties", "bad value")
		}
		switch x.(type) {
		case nil:
			del = append(del, k)
		case string, float64, bool:
			set[k] = x
		default:
			return nil, nil, errDiskField("custom_properties", "values must be strings, numbers or booleans")
		}
	}
	return set, del, nil
}

// SetDiskTotalSpace gives user's Disk a quota of n bytes (files in the
// trash count): uploads that would pass it answer 507, and GET /v1/disk
// reports it as total_space. n <= 0 removes the quota.
func (s *Server) SetDiskTotalSpace(user string, n int64) {
	key := s.diskKey(user)
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if n <= 0 {
		delete(ds.quota, key)
		return
	}
	ds.quota[key] = n
}

// SetDiskUploadSpool makes uploads received from now on go to files in dir
// instead of memory ("" = memory again), so tests can upload files larger
// than RAM should hold (raise SetDiskMaxUpload too). The files are the
// caller's to remove, e.g. with a t.TempDir.
func (s *Server) SetDiskUploadSpool(dir string) {
	ds := s.disk()
	ds.mu.Lock()
	ds.spoolDir = dir
	ds.mu.Unlock()
}

// SetDiskUploadAsync makes uploads answer 202 Accepted: the file appears,
// and its operation turns "success", only at the polls-th poll of
// GET /v1/disk/operations/{id}. polls <= 0 restores 201 uploads.
func (s *Server) SetDiskUploadAsync(polls int) {
	ds := s.disk()
	ds.mu.Lock()
	ds.asyncPolls = max(polls, 0)
	ds.mu.Unlock()
}

// DiskUploadCounts returns, for user, how many uploads were stored at each
// path ("disk:/a/b") since the emulator started (or ResetDiskUploadCounts):
// a restore that never writes a file twice leaves every count at 1.
func (s *Server) DiskUploadCounts(user string) map[string]int {
	prefix := s.diskKey(user) + "\x00"
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	out := map[string]int{}
	for fk, n := range ds.uploads {
		if p, ok := strings.CutPrefix(fk, prefix); ok {
			out["disk:"+p] = n
		}
	}
	return out
}

// ResetDiskUploadCounts zeroes the counters DiskUploadCounts reports.
func (s *Server) ResetDiskUploadCounts() {
	ds := s.disk()
	ds.mu.Lock()
	ds.uploads = make(map[string]int)
	ds.mu.Unlock()
}
