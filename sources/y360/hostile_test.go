package y360_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/memprobe"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// Issue 16.1: a hostile Directory cannot make ListUsers take unbounded
// memory (a body of gigabytes) or run forever (pages: 999999999).
func TestListUsersHostileDirectory(t *testing.T) {
	endless := func(w http.ResponseWriter, prefix string) {
		w.Write([]byte(prefix))
		chunk := []byte(strings.Repeat("a", 1<<20))
		for i := 0; i < 3<<10; i++ { // up to 3 GB, until the client goes away
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	cases := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		want    string
	}{
		{"3 GB string", func(w http.ResponseWriter, r *http.Request) {
			endless(w, `{"users":[{"id":"1","email":"`)
		}, "larger than 64 MiB"},
		{"3 GB unknown key", func(w http.ResponseWriter, r *http.Request) {
			endless(w, `{"x":"`)
		}, "larger than 64 MiB"},
		{"pages 999999999", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"users":[{"id":"1"}],"page":1,"pages":999999999,"perPage":1000,"total":1}`))
		}, "claims 999999999 pages"},
		{"pages against total", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"users":[{"id":"1"}],"pages":50,"perPage":1000,"total":1}`))
		}, "claims 50 pages for 1 users"},
		{"empty pages without total", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"users":[],"pages":40}`))
		}, "page 1 of 40 holds no users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				w.Header().Set("Content-Type", "application/json")
				c.handler(w, r)
			}))
			defer srv.Close()
			cl, err := y360.New(y360.Config{OrgID: "1", AdminToken: "adm", ClientID: "c", ClientSecret: "s",
				APIBase: srv.URL, OAuthURL: srv.URL, RPS: -1, MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var lerr error
			peak := memprobe.HeapPeak(func() {
				lerr = cl.ListUsers(context.Background(), func(sources.User) error { return nil })
			})
			t.Logf("%s: peak heap in use %d MiB, %d requests: %v", c.name, peak>>20, hits.Load(), lerr)
			if lerr == nil || !strings.Contains(lerr.Error(), c.want) {
				t.Fatalf("ListUsers = %v, want an error naming %q", lerr, c.want)
			}
			if peak > 512<<20 {
				t.Errorf("peak heap %d MiB: not bounded", peak>>20)
			}
			if hits.Load() > 3 {
				t.Errorf("%d requests for a listing that cannot be right", hits.Load())
			}
		})
	}
}
