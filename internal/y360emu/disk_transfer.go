package y360emu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// diskHref signs a download link for the file n at p (key's disk). The link
// names the file version (revision): after a change it answers 404, like a
// link to content that is gone. ds.mu must be held (n is read).
func (s *Server) diskHref(base, key, p string, n *diskNode, expires time.Time) string {
	rev := strconv.FormatInt(n.revision, 10)
	exp := strconv.FormatInt(expires.Unix(), 10)
	id := sha256.Sum256([]byte(key + "\x00" + p + "\x00" + rev))
	q := url.Values{
		"uid": {key}, "path": {p}, "rev": {rev}, "expires": {exp},
		"filename": {n.name}, "disposition": {"attachment"},
		"sig": {hex.EncodeToString(s.sign(hrefPayload(key, p, rev, exp)))},
	}
	return base + diskDownloadPrefix + hex.EncodeToString(id[:16]) + "?" + q.Encode()
}

func hrefPayload(key, p, rev, exp string) string {
	return "disk-download\x00" + key + "\x00" + p + "\x00" + rev + "\x00" + exp
}

// serveDiskDownload is the download host: GET/HEAD of a signed href, with a
// single byte range supported. A link must carry a valid signature and be
// unexpired (410 Gone otherwise); with SetDiskDownloadRequiresToken the
// owner's OAuth token is required too.
func (s *Server) serveDiskDownload(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, diskDownloadPrefix) {
		s.writeStatusError(w, r.URL.Path, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeStatusError(w, r.URL.Path, http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	key, p, rev, exp := q.Get("uid"), q.Get("path"), q.Get("rev"), q.Get("expires")
	sig, err := hex.DecodeString(q.Get("sig"))
	if err != nil || !hmac.Equal(sig, s.sign(hrefPayload(key, p, rev, exp))) {
		s.writeStatusError(w, r.URL.Path, http.StatusForbidden)
		return
	}
	if e, err := strconv.ParseInt(exp, 10, 64); err != nil || !s.now().Before(time.Unix(e, 0)) {
		s.writeStatusError(w, r.URL.Path, http.StatusGone)
		return
	}
	ds := s.disk()
	ds.mu.Lock()
	needToken := ds.requireToken
	ds.mu.Unlock()
	if needToken {
		c, err := s.Verify(oauthToken(r))
		if err != nil || s.diskKey(c.Subject) != key {
			s.writeStatusError(w, r.URL.Path, http.StatusUnauthorized)
			return
		}
	}
	names, err := parseDiskPath("path", p, "disk")
	if err != nil {
		writeDiskErr(w, err)
		return
	}
	fk := faultKey(key, p)
	ds.mu.Lock()
	var n *diskNode
	if ud := ds.users[key]; ud != nil {
		n = ud.lookup(names)
	}
	if n == nil || n.dir || strconv.FormatInt(n.revision, 10) != rev {
		ds.mu.Unlock()
		writeDiskErr(w, errDiskNotFound())
		return
	}
	if ds.takeLockLocked(fk) {
		ds.mu.Unlock()
		writeDiskErr(w, errDiskLocked())
		return
	}
	c, name := n.content, n.name
	corrupt := ds.faults.corrupt[fk]
	var drop int64 = -1
	if r.Method == http.MethodGet {
		drop = ds.takeDropLocked(fk)
	}
	sv := ds.servedLocked(fk)
	ds.mu.Unlock()

	start, end, partial, ok := parseRange(r.Header.Get("Range"), c.size)
	if !ok {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", c.size))
		s.writeStatusError(w, r.URL.Path, http.StatusRequestedRangeNotSatisfiable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", diskMimeType(name))
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, c.size))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	sv.responses.Add(1)
	var body io.Reader = io.LimitReader(c.reader(start), end-start)
	if corrupt && c.size > 0 {
		body = &flipReader{r: body, pos: start, at: c.size / 2}
	}
	s.streamDiskBody(w, body, sv, drop)
}

// streamDiskBody copies body to w, counting bytes; with drop >= 0 it cuts
// the connection after drop bytes.
func (s *Server) streamDiskBody(w http.ResponseWriter, body io.Reader, sv *diskServed, drop int64) {
	buf := make([]byte, 64<<10)
	var sent int64
	for {
		n, rerr := body.Read(buf)
		if drop >= 0 && sent+int64(n) >= drop {
			k := drop - sent
			if k > 0 {
				_, _ = w.Write(buf[:k])
				sv.bytes.Add(k)
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			panic(http.ErrAbortHandler) // net/http closes the connection quietly
		}
		if n > 0 {
			m, werr := w.Write(buf[:n])
			sent += int64(m)
			sv.bytes.Add(int64(m))
			if werr != nil {
				return
			}
		}
		if rerr != nil {
			return
		}
	}
}

// parseRange understands one "bytes=a-b", "bytes=a-" or "bytes=-n" range and
// returns the half-open [start, end). Anything else (several ranges, bad
// syntax) is ignored: the whole body is sent, as RFC 9110 allows. ok=false
// means unsatisfiable (416).
func parseRange(h string, size int64) (start, end int64, partial, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, false, true
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, size, false, true
		}
		if n == 0 || size == 0 {
			return 0, 0, false, false
		}
		return max(0, size-n), size, true, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, size, false, true
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, size, false, true
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, false, false
	}
	return first, last + 1, true, true
}

// flipReader inverts the byte at absolute offset at; pos is the absolute
// offset of the next byte read.
type flipReader struct {
	r       io.Reader
	pos, at int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		p[f.at-f.pos] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}
