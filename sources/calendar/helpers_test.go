package calendar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// counter is an http.RoundTripper that counts requests, optionally calling
// a hook first (the hook may fail the request or change the server).
type counter struct {
	mu    sync.Mutex
	next  http.RoundTripper
	n     int
	byKey map[string]int           // "METHOD path"
	took  map[string]time.Duration // by "METHOD path", until headers
	hook  func(*http.Request) (*http.Response, error)
}

func newCounter() *counter {
	return &counter{next: http.DefaultTransport, byKey: map[string]int{}, took: map[string]time.Duration{}}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.byKey[r.Method+" "+r.URL.Path]++
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		if resp, err := hook(r); resp != nil || err != nil {
			return resp, err
		}
	}
	t0 := time.Now()
	resp, err := c.next.RoundTrip(r)
	c.mu.Lock()
	c.took[r.Method+" "+r.URL.Path] += time.Since(t0)
	c.mu.Unlock()
	return resp, err
}

// timings returns and clears time-to-headers per "METHOD path".
func (c *counter) timings() map[string]time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.took
	c.took = map[string]time.Duration{}
	return t
}

func (c *counter) reset() (n int, byKey map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, byKey = c.n, c.byKey
	c.n, c.byKey = 0, map[string]int{}
	return n, byKey
}

// discoveryRequests is what every run costs before any collection work:
// current-user-principal, calendar-home-set, PROPFIND Depth 1 on the home.
const discoveryRequests = 3

// demoEnv is the demo CalDAV server behind httptest, with tokens
// "tok-<email>" (and any extra ones tests allow).
type demoEnv struct {
	srv     *caldavdemo.Server
	ts      *httptest.Server
	cnt     *counter
	mu      sync.Mutex
	tokens  map[string]string // token → email
	revoked map[string]bool
	// rewrite, if set, may change any response the demo gives.
	rewrite func(r *http.Request, status int, body []byte) (int, []byte)
}

func newDemoEnv(t *testing.T, opts caldavdemo.Options) *demoEnv {
	t.Helper()
	e := &demoEnv{cnt: newCounter(), tokens: map[string]string{}, revoked: map[string]bool{}}
	opts.Validate = func(tok string) (string, bool) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.revoked[tok] {
			return "", false
		}
		if email, ok := e.tokens[tok]; ok {
			return email, true
		}
		if strings.HasPrefix(tok, "tok-") {
			return strings.TrimPrefix(tok, "tok-"), true
		}
		return "", false
	}
	e.srv = caldavdemo.New(opts)
	e.ts = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.ts.Close)
	return e
}

func (e *demoEnv) serve(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	rw := e.rewrite
	e.mu.Unlock()
	if rw == nil {
		e.srv.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	status, body := rw(r, rec.Code, rec.Body.Bytes())
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
	w.Write(body)
}

func (e *demoEnv) revoke(tok string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.revoked[tok] = true
}

func (e *demoEnv) allow(tok, email string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokens[tok] = email
}

func (e *demoEnv) setRewrite(f func(r *http.Request, status int, body []byte) (int, []byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rewrite = f
}

func (e *demoEnv) source(t *testing.T, mutate ...func(*calendar.Config)) *calendar.Source {
	t.Helper()
	cfg := calendar.NewConfig()
	cfg.URL = e.ts.URL + "/"
	cfg.Timeout = 30 * time.Second
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return calendar.New(cfg, &http.Client{Transport: e.cnt})
}

func user(email string) sources.User {
	return sources.User{ID: "uid-" + email, Email: email, Enabled: true}
}

func tokensFor(email string) *sourcetest.StaticTokens {
	return &sourcetest.StaticTokens{Tok: "tok-" + email}
}

type meta struct {
	Href      string `json:"href"`
	ETag      string `json:"etag"`
	UID       string `json:"uid"`
	Component string `json:"component"`
	Malformed bool   `json:"malformed"`
}

func itemMeta(t *testing.T, it sources.Item) meta {
	t.Helper()
	var m meta
	if err := json.Unmarshal(it.Meta, &m); err != nil {
		t.Fatalf("item %s meta %s: %v", it.ID, it.Meta, err)
	}
	return m
}

type cursor struct {
	CTag        string   `json:"ctag"`
	SyncToken   string   `json:"sync_token"`
	DisplayName string   `json:"displayname"`
	Color       string   `json:"color"`
	Components  []string `json:"components"`
}

func committedCursor(t *testing.T, st *sourcetest.MemStore, name string) cursor {
	t.Helper()
	var c cursor
	raw := st.CommittedCursor(name)
	if raw == nil {
		t.Fatalf("container %s has no committed cursor", name)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("cursor of %s: %v", name, err)
	}
	return c
}

// assertMirror checks that the store holds exactly the server's objects of
// every collection, byte for byte.
func (e *demoEnv) assertMirror(t *testing.T, st *sourcetest.MemStore, email string) {
	t.Helper()
	cals := e.srv.Calendars(email)
	if got := st.Containers(); strings.Join(got, ",") != strings.Join(cals, ",") {
		t.Fatalf("containers = %v, server has %v", got, cals)
	}
	for _, cal := range cals {
		items := st.Items(cal)
		names := e.srv.Objects(email, cal)
		if len(items) != len(names) {
			t.Errorf("%s: %d items stored, server has %d", cal, len(items), len(names))
		}
		for _, name := range names {
			want, _ := e.srv.Object(email, cal, name)
			it, ok := items[name]
			if !ok {
				t.Errorf("%s/%s not stored", cal, name)
				continue
			}
			got, ok := st.Body(it.Hash)
			if !ok || !bytes.Equal(got, want) {
				t.Errorf("%s/%s: stored body differs from the server's bytes", cal, name)
			}
		}
	}
}

func backup(t *testing.T, src *calendar.Source, email string, st sources.Store) {
	t.Helper()
	if err := src.Backup(context.Background(), user(email), tokensFor(email), st); err != nil {
		t.Fatalf("backup %s: %v", email, err)
	}
}
