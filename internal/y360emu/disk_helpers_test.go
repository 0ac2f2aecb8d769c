package y360emu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// diskEnv is an emulator with a fake clock, its API base URL, and a user
// token with read+write Disk scopes.
type diskEnv struct {
	s   *Server
	clk *FakeClock
	api string
	tok string // alice, read+write+info
}

const diskUser = "alice@" + DemoDomain

func newDiskEnv(t *testing.T) *diskEnv {
	t.Helper()
	clk := NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	o := DefaultOrg()
	o.Key = []byte("disk-test-key")
	o.Now = clk.Now
	s := New(o)
	api := s.Start()
	t.Cleanup(func() { s.Close(); s.CloseDisk() })
	tok := s.MintToken(diskUser, scopeDiskRead, scopeDiskWrite, scopeDiskInfo)
	return &diskEnv{s: s, clk: clk, api: api, tok: tok}
}

type diskReply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends one request with "Authorization: OAuth tok" (tok "" = none).
func (e *diskEnv) do(t *testing.T, method, u, tok string, hdr map[string]string, body io.Reader) diskReply {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "OAuth "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	r := diskReply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// get calls an API path with query parameters kv (name, value, ...).
func (e *diskEnv) get(t *testing.T, p string, kv ...string) diskReply {
	t.Helper()
	return e.do(t, http.MethodGet, e.url(p, kv...), e.tok, nil, nil)
}

func (e *diskEnv) url(p string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u := e.api + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// wantDiskError checks a Disk-style error body.
func wantDiskError(t *testing.T, r diskReply, status int, name string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.raw)
	}
	if r.body["error"] != name {
		t.Fatalf("error %v, want %s (body %s)", r.body["error"], name, r.raw)
	}
	for _, k := range []string{"message", "description"} {
		if s, _ := r.body[k].(string); s == "" {
			t.Fatalf("error body lacks %q: %s", k, r.raw)
		}
	}
}

func diskItems(t *testing.T, v any) []map[string]any {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("items: %T, want array", v)
	}
	out := make([]map[string]any, len(arr))
	for i, a := range arr {
		out[i], _ = a.(map[string]any)
	}
	return out
}

func diskPaths(its []map[string]any) []string {
	out := make([]string, len(its))
	for i, it := range its {
		out[i], _ = it["path"].(string)
	}
	return out
}
