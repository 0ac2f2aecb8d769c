package disk

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources/disk/api"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func sums(b []byte) (string, string) {
	s, m := sha256.Sum256(b), md5.Sum(b)
	return hex.EncodeToString(s[:]), hex.EncodeToString(m[:])
}

func TestVerifier(t *testing.T) {
	data := []byte("the quick brown fox")
	sha, md := sums(data)
	tests := []struct {
		name string
		body []byte
		res  api.Resource
		ok   bool
	}{
		{"sha256 match", data, api.Resource{Size: 19, SHA256: sha, MD5: md}, true},
		{"upper-case hex", data, api.Resource{Size: 19, SHA256: strings.ToUpper(sha)}, true},
		{"md5 only", data, api.Resource{Size: 19, MD5: md}, true},
		{"size only", data, api.Resource{Size: 19}, true},
		{"short", data[:10], api.Resource{Size: 19, SHA256: sha}, false},
		{"long", append(append([]byte{}, data...), '!'), api.Resource{Size: 19, SHA256: sha}, false},
		{"sha256 differs", []byte("the quick brown fax"), api.Resource{Size: 19, SHA256: sha}, false},
		{"md5 differs", []byte("the quick brown fax"), api.Resource{Size: 19, MD5: md}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.res.Path = "disk:/f.txt"
			v := newVerifier(iotest(tc.body), tc.res)
			_, err := io.Copy(io.Discard, v)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrChecksum) {
				t.Fatalf("error %v must wrap ErrChecksum", err)
			}
		})
	}
}

// iotest returns a reader that hands out b in small pieces.
func iotest(b []byte) io.Reader { return &chunky{b: b} }

type chunky struct{ b []byte }

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// newTestRun is a run against a bare HTTP server (no API): res.File is used.
func newTestRun(t *testing.T, mod func(*Config)) *run {
	t.Helper()
	cfg := NewConfig()
	cfg.RPS, cfg.DownloadRPS = -1, -1
	cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 5*time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	src := New(cfg, nil)
	st := sourcetest.New()
	c, err := st.Open(context.Background(), ContainerName)
	if err != nil {
		t.Fatal(err)
	}
	return &run{src: src, cfg: src.cfg, tok: &sourcetest.StaticTokens{Tok: "t"}, st: st, c: c, who: "test"}
}

// A body that stalls is cut after StallTimeout and resumed; a server that
// ignores Range gets its first bytes skipped.
func TestResumableStallAndIgnoredRange(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	var reqs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := reqs.Add(1)
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(200) // always 200, Range or not
		if n == 1 {
			_, _ = w.Write(data[:30_000])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // stall until the client gives up
			return
		}
		if r.Header.Get("Range") != "bytes=30000-" {
			t.Errorf("resume asked for %q", r.Header.Get("Range"))
		}
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	r := newTestRun(t, func(c *Config) { c.StallTimeout = 200 * time.Millisecond })
	sha, _ := sums(data)
	res := api.Resource{Path: "disk:/stall.bin", Size: int64(len(data)), SHA256: sha, File: srv.URL + "/f"}
	start := time.Now()
	body, err := r.fetch(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}
	if body.Hash != sha || reqs.Load() != 2 {
		t.Fatalf("hash %s after %d requests", body.Hash, reqs.Load())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stall detection took %v", d)
	}
}

func TestResumableRejectsWrongContentRange(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	var reqs atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqs.Add(1) == 1 {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write(data[:100])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Range", "bytes 0-999/1000") // not where we asked
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(data)
	}))
	defer srv.Close()
	r := newTestRun(t, nil)
	sha, _ := sums(data)
	_, err := r.fetch(context.Background(), api.Resource{Path: "disk:/x", Size: 1000, SHA256: sha, File: srv.URL})
	if err == nil || !strings.Contains(err.Error(), `got Content-Range "bytes 0-999/1000"`) {
		t.Fatalf("want a Content-Range error, got %v", err)
	}
}
