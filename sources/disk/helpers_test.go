package disk_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// env is an in-process emulator and one user of it, with a token source
// that re-mints on Invalidate.
type env struct {
	emu  *y360emu.Server
	clk  *y360emu.FakeClock // the emulator's clock (href and token expiry)
	api  string
	user sources.User
	tok  *sourcetest.StaticTokens
	rt   *hookRT
}

var userSeq atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	o := y360emu.DefaultOrg()
	o.Key = []byte("disk-source-tests")
	o.TokenLifetime = 24 * time.Hour
	clk := y360emu.NewFakeClock(time.Now())
	o.Now = clk.Now
	emu := y360emu.New(o)
	api := emu.Start()
	t.Cleanup(func() { emu.Close(); emu.CloseDisk() })
	email := fmt.Sprintf("disk-%d-%d@example.org", time.Now().UnixNano(), userSeq.Add(1))
	e := &env{emu: emu, clk: clk, api: api, user: sources.User{ID: email, Email: email, Enabled: true}, rt: &hookRT{next: http.DefaultTransport}}
	e.tok = &sourcetest.StaticTokens{Tok: emu.MintToken(email), Next: func() string { return emu.MintToken(email) }}
	return e
}

// config is a Config for the emulator: no rate limit, fast back-off.
func (e *env) config() disk.Config {
	c := disk.NewConfig()
	c.URL = e.api
	c.RPS, c.DownloadRPS = -1, -1
	c.MinBackoff, c.MaxBackoff = time.Millisecond, 20*time.Millisecond
	c.LockedWait = 10 * time.Millisecond
	c.PageSize = 7 // several pages even for small test disks
	return c
}

func (e *env) source(t *testing.T, mod func(*disk.Config)) *disk.Source {
	t.Helper()
	c := e.config()
	if mod != nil {
		mod(&c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return disk.New(c, &http.Client{Transport: e.rt})
}

func (e *env) put(t *testing.T, p, body string) {
	t.Helper()
	if err := e.emu.DiskPutFile(e.user.Email, p, []byte(body), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) backup(t *testing.T, src *disk.Source, st sources.Store) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return src.Backup(ctx, e.user, e.tok, st)
}

// mustBackup runs a backup that must succeed with no failures.
func (e *env) mustBackup(t *testing.T, src *disk.Source, st *sourcetest.MemStore) {
	t.Helper()
	if err := e.backup(t, src, st); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if len(st.Failures) > 0 {
		t.Fatalf("failures: %v", st.Failures)
	}
}

// checkConsistent asserts the invariant every run must keep: each file on
// the Disk is either recorded with exactly its bytes or named in a failure
// (or skip), and nothing else is recorded. It returns the failed paths.
func (e *env) checkConsistent(t *testing.T, st *sourcetest.MemStore) (failed []string) {
	t.Helper()
	items := st.Items(disk.ContainerName)
	onDisk := map[string]bool{}
	for _, p := range e.emu.DiskFiles(e.user.Email) {
		onDisk[p] = true
		fi, _ := e.emu.DiskStat(e.user.Email, p)
		it, ok := items[p]
		if !ok {
			if !mentioned(st.Failures, p) && !mentioned(st.Skips, p) {
				t.Errorf("%s: neither stored nor reported", p)
			} else {
				failed = append(failed, p)
			}
			continue
		}
		if it.Hash != fi.SHA256 || it.Size != fi.Size {
			t.Errorf("%s: recorded %s/%d, disk has %s/%d", p, it.Hash, it.Size, fi.SHA256, fi.Size)
		}
		body, ok := st.Body(it.Hash)
		if !ok {
			t.Errorf("%s: body %s not in the store", p, it.Hash)
			continue
		}
		if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != it.Hash {
			t.Errorf("%s: stored body does not hash to %s", p, it.Hash)
		}
		var m disk.Meta
		if err := json.Unmarshal(it.Meta, &m); err != nil || m.Path != p || m.Size != fi.Size || m.SHA256 != fi.SHA256 || m.MD5 != fi.MD5 {
			t.Errorf("%s: meta %s", p, it.Meta)
		}
	}
	for id := range items {
		if !onDisk[id] {
			t.Errorf("%s: recorded but not on the Disk", id)
		}
	}
	return failed
}

func mentioned(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p+": ") {
			return true
		}
	}
	return false
}

// hookRT is the test client's transport: it can run a hook after each
// response (to change the emulator between requests), and one before each
// request that may answer it instead (to stall or break it).
type hookRT struct {
	next   http.RoundTripper
	mu     sync.Mutex
	after  func(*http.Request, *http.Response)
	before func(*http.Request) (*http.Response, bool, error)
}

func (h *hookRT) setAfter(fn func(*http.Request, *http.Response)) {
	h.mu.Lock()
	h.after = fn
	h.mu.Unlock()
}

// setBefore installs fn; when it returns handled, its answer is the
// request's and the server never sees it.
func (h *hookRT) setBefore(fn func(*http.Request) (resp *http.Response, handled bool, err error)) {
	h.mu.Lock()
	h.before = fn
	h.mu.Unlock()
}

func (h *hookRT) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	before := h.before
	h.mu.Unlock()
	if before != nil {
		if resp, handled, err := before(r); handled {
			return resp, err
		}
	}
	resp, err := h.next.RoundTrip(r)
	h.mu.Lock()
	after := h.after
	h.mu.Unlock()
	if err == nil && after != nil {
		after(r, resp)
	}
	return resp, err
}

// streamStore is a MemStore whose bodies are hashed and dropped, not kept,
// so gigabyte files can pass through it with bounded memory.
type streamStore struct {
	*sourcetest.MemStore
	mu     sync.Mutex
	bodies map[string]int64
}

func newStreamStore() *streamStore {
	return &streamStore{MemStore: sourcetest.New(), bodies: map[string]int64{}}
}

func (s *streamStore) Open(ctx context.Context, name string) (sources.Container, error) {
	c, err := s.MemStore.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &streamContainer{Container: c, s: s}, nil
}

type streamContainer struct {
	sources.Container
	s *streamStore
}

func (c *streamContainer) PutBody(ctx context.Context, r io.Reader) (sources.Body, error) {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(h, r, buf)
	if err != nil {
		return sources.Body{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	c.s.mu.Lock()
	c.s.bodies[sum] = n
	c.s.mu.Unlock()
	return sources.Body{Hash: sum, Size: n}, nil
}

func (c *streamContainer) HasBody(ctx context.Context, hash string) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, ok := c.s.bodies[hash]
	return ok
}
