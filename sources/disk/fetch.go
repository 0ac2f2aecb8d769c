package disk

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk/api"
	"github.com/y360backup/y360backup/sources/y360"
)

// ErrChecksum means the bytes downloaded do not match the size or checksum
// the listing advertised; nothing is recorded for that file.
var ErrChecksum = errors.New("content does not match the advertised checksum")

// fetch streams res from the download host into the store, verifying size
// and sha256 (or md5) on the way. A mismatch fails PutBody, so no item
// points at the wrong bytes (the object itself may stay, unreferenced).
func (r *run) fetch(ctx context.Context, res api.Resource) (sources.Body, error) {
	var src io.Reader = strings.NewReader("") // empty files need no request
	if res.Size != 0 {
		d := &resumable{r: r, ctx: ctx, res: res}
		if !r.cfg.FreshLinks {
			d.href = res.File
		}
		defer d.close()
		src = d
	}
	v := newVerifier(src, res)
	body, err := r.c.PutBody(ctx, v)
	if v.mismatch != nil {
		err = v.mismatch // whatever PutBody made of it
	}
	if err != nil {
		return sources.Body{}, fmt.Errorf("disk: %s: %w", res.Path, err)
	}
	if body.Size != res.Size || (res.SHA256 != "" && body.Hash != res.SHA256) {
		// The store hashed something else than we verified: never record it.
		return sources.Body{}, fmt.Errorf("disk: %s: stored body %s (%d bytes) differs from the verified stream: %w",
			res.Path, body.Hash, body.Size, ErrChecksum)
	}
	return body, nil
}

// verifier passes bytes through, hashing them, and turns the final EOF into
// an ErrChecksum error when size or checksum differ from the listing's.
type verifier struct {
	src      io.Reader
	res      api.Resource
	n        int64
	sha, md5 hash.Hash // md5 only when the listing has no sha256
	mismatch error
}

func newVerifier(src io.Reader, res api.Resource) *verifier {
	v := &verifier{src: src, res: res, sha: sha256.New()}
	if res.SHA256 == "" && res.MD5 != "" {
		v.md5 = md5.New()
	}
	return v
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.mismatch != nil {
		return 0, v.mismatch
	}
	n, err := v.src.Read(p)
	v.n += int64(n)
	v.sha.Write(p[:n])
	if v.md5 != nil {
		v.md5.Write(p[:n])
	}
	switch {
	case v.n > v.res.Size:
		return 0, v.fail("more than the advertised %d bytes", v.res.Size)
	case err == io.EOF && v.n < v.res.Size:
		return n, v.fail("got %d of %d bytes", v.n, v.res.Size)
	case err == io.EOF:
		if got := hex.EncodeToString(v.sha.Sum(nil)); v.res.SHA256 != "" && !strings.EqualFold(got, v.res.SHA256) {
			return n, v.fail("sha256 %s, listing says %s", got, v.res.SHA256)
		}
		if v.md5 != nil {
			if got := hex.EncodeToString(v.md5.Sum(nil)); !strings.EqualFold(got, v.res.MD5) {
				return n, v.fail("md5 %s, listing says %s", got, v.res.MD5)
			}
		}
	}
	return n, err
}

func (v *verifier) fail(format string, args ...any) error {
	v.mismatch = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrChecksum)
	return v.mismatch
}

// errDropped marks a body that ended early or broke; the reader resumes it.
var errDropped = errors.New("download interrupted")

// resumable reads one file from the download host. When the connection
// breaks (or stalls for StallTimeout) mid-body it re-requests the rest with
// "Range: bytes=N-", at most ResumeAttempts times. A link that stopped
// working (expired, file changed: 403/404/410) is replaced once per
// reconnect by a fresh one from /v1/disk/resources/download.
type resumable struct {
	r    *run
	ctx  context.Context
	res  api.Resource
	href string // "" = ask the API

	off   int64
	body  io.ReadCloser
	stall *time.Timer

	mu       sync.Mutex         // guards cancel: the stall watchdog runs on its own goroutine
	cancel   context.CancelFunc // ends the current request
	attempts int                // reconnects after a broken body
	err      error
}

func (d *resumable) Read(p []byte) (int, error) {
	for {
		if d.err != nil {
			return 0, d.err
		}
		if d.body == nil {
			if err := d.open(); err != nil {
				d.err = err
				return 0, err
			}
		}
		n, err := d.body.Read(p)
		d.off += int64(n)
		if n > 0 {
			d.stall.Reset(d.r.cfg.StallTimeout)
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && d.off >= d.res.Size:
			return n, io.EOF
		case d.ctx.Err() != nil:
			d.err = d.ctx.Err()
			return n, d.err
		}
		// The body ended early or broke: resume from d.off.
		d.closeBody()
		if d.attempts >= d.r.cfg.ResumeAttempts {
			d.err = fmt.Errorf("%w at byte %d of %d after %d resumes: %v",
				errDropped, d.off, d.res.Size, d.attempts, err)
			return n, d.err
		}
		d.attempts++
		if n > 0 {
			return n, nil
		}
	}
}

// open starts the request for the bytes from d.off on.
func (d *resumable) open() error {
	refreshed := false
	for {
		if d.href == "" {
			h, err := d.r.downloadLink(d.ctx, d.res.Path)
			if err != nil {
				return err
			}
			d.href, refreshed = h, true
		}
		actx, cancel := context.WithCancel(d.ctx)
		req, err := http.NewRequestWithContext(actx, http.MethodGet, d.href, nil)
		if err != nil {
			cancel()
			return fmt.Errorf("bad download link: %w", errors.Unwrap(err))
		}
		if d.off > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.off))
		}
		resp, err := d.r.src.dl.DoAuth(actx, req, d.r.tok)
		if err != nil {
			cancel()
			if !refreshed && d.ctx.Err() == nil && staleLink(err) {
				d.href = ""
				continue
			}
			return err
		}
		if err := d.position(resp); err != nil {
			resp.Body.Close()
			cancel()
			return err
		}
		d.body = resp.Body
		d.mu.Lock()
		d.cancel = cancel
		d.mu.Unlock()
		if d.stall == nil {
			d.stall = time.AfterFunc(d.r.cfg.StallTimeout, func() { d.cancelAttempt() })
		} else {
			d.stall.Reset(d.r.cfg.StallTimeout)
		}
		return nil
	}
}

// cancelAttempt is the stall watchdog: it breaks the current request, which
// Read then resumes. It may run concurrently with Read.
func (d *resumable) cancelAttempt() {
	d.mu.Lock()
	c := d.cancel
	d.mu.Unlock()
	if c != nil {
		c()
	}
}

// position checks that resp starts at d.off: a 206 with the right
// Content-Range, or a 200 (server ignored Range) whose first d.off bytes are
// skipped.
func (d *resumable) position(resp *http.Response) error {
	switch {
	case d.off == 0 && resp.StatusCode == http.StatusOK:
		return nil
	case d.off > 0 && resp.StatusCode == http.StatusPartialContent:
		var start, end, total int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &total); err != nil || start != d.off {
			return fmt.Errorf("asked for bytes from %d, got Content-Range %q", d.off, resp.Header.Get("Content-Range"))
		}
		return nil
	case d.off > 0 && resp.StatusCode == http.StatusOK:
		if _, err := io.CopyN(io.Discard, resp.Body, d.off); err != nil {
			return fmt.Errorf("skipping %d bytes the server resent: %w", d.off, err)
		}
		return nil
	}
	return fmt.Errorf("download answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

func (d *resumable) closeBody() {
	if d.body != nil {
		d.body.Close()
		d.body = nil
	}
	d.mu.Lock()
	c := d.cancel
	d.cancel = nil
	d.mu.Unlock()
	if c != nil {
		c()
	}
}

func (d *resumable) close() {
	if d.stall != nil {
		d.stall.Stop()
	}
	d.closeBody()
}

// staleLink reports a download-host answer that a fresh link may cure.
func staleLink(err error) bool {
	var e *y360.APIError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

// downloadLink asks the API for a fresh download href of p. Errors do not
// repeat p: fetch names the file once.
func (r *run) downloadLink(ctx context.Context, p string) (string, error) {
	var l api.Link
	if err := r.getJSON(ctx, "/v1/disk/resources/download", url.Values{"path": {p}}, &l); err != nil {
		return "", fmt.Errorf("download link: %w", err)
	}
	if l.Href == "" {
		return "", errors.New("download link: empty href")
	}
	return l.Href, nil
}

// getJSON GETs an API path with the user's token and decodes the answer.
func (r *run) getJSON(ctx context.Context, p string, q url.Values, out any) error {
	return r.src.callJSON(ctx, r.tok, http.MethodGet, p, q, nil, out)
}

// callJSON sends one API request with the user's token (through the API
// host's Doer: rate limit, retries, one re-mint on 401) and decodes the
// answer into out (nil = discard it). body, if not nil, is sent as JSON
// and replayed on retries.
func (s *Source) callJSON(ctx context.Context, tok sources.TokenSource, method, p string, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s: %w", p, err)
		}
		rd = bytes.NewReader(b) // sets GetBody, so retries can replay it
	}
	u := s.cfg.URL + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.api.DoAuth(ctx, req, tok)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out != nil {
		body := &io.LimitedReader{R: resp.Body, N: maxJSONAnswer}
		if err := json.NewDecoder(body).Decode(out); err != nil {
			if body.N <= 0 {
				err = fmt.Errorf("the answer is larger than %d MiB", maxJSONAnswer>>20)
			}
			return fmt.Errorf("decode %s: %w", p, err)
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // let the connection be reused
	return nil
}

// maxJSONAnswer bounds one Disk API JSON answer (a listing page of a few
// hundred resources is well under a megabyte).
const maxJSONAnswer = 64 << 20

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
