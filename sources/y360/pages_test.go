package y360_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources/y360"
)

// pagedServer answers GET /list?page=N with body(page).
func pagedServer(t *testing.T, body func(page int) string) (*y360.Client, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body(p)))
	}))
	t.Cleanup(ts.Close)
	c, err := y360.New(y360.Config{OrgID: "1", AdminToken: "t", APIBase: ts.URL, RPS: -1, MaxRetries: -1,
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, &hits
}

func items(from, n int) string {
	var parts []string
	for i := from; i < from+n; i++ {
		parts = append(parts, fmt.Sprintf(`{"id":"%d"}`, i))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestListPagesStops(t *testing.T) {
	cases := []struct {
		name      string
		body      func(p int) string
		wantItems int
		wantHits  int64
		wantErr   string
	}{
		{"pages field", func(p int) string {
			return fmt.Sprintf(`{"x":%s,"page":%d,"pages":3,"perPage":2,"total":6}`, items(p*2, 2), p)
		}, 6, 3, ""},
		{"lying pages stop at total", func(p int) string {
			return fmt.Sprintf(`{"x":%s,"pages":999999999,"perPage":2,"total":5}`, items(p*2, min(2, 5-(p-1)*2)))
		}, 5, 3, ""},
		{"no pages, total only", func(p int) string { return fmt.Sprintf(`{"x":%s,"page":%d,"perPage":2,"total":4}`, items(p*2, 2), p) }, 4, 2, ""},
		{"no envelope: short page ends", func(p int) string { return fmt.Sprintf(`{"x":%s}`, items(p*2, 3-p)) }, 3, 2, ""},
		{"empty page ends", func(p int) string {
			if p > 2 {
				return `{"x":[],"pages":999999999,"total":999999999}`
			}
			return fmt.Sprintf(`{"x":%s,"pages":999999999,"total":999999999}`, items(p*2, 2))
		}, 4, 3, ""},
		{"same page twice is an error", func(p int) string { return `{"x":[{"id":"1"},{"id":"2"}],"pages":999999999,"total":999999999}` }, 4, 2, "repeats page 1"},
		{"null array", func(p int) string { return `{"x":null,"pages":1}` }, 0, 1, ""},
		{"broken JSON", func(p int) string { return `{"x":[{"id":"1"},{"id"` }, 1, 1, "decode"},
		{"not an array", func(p int) string { return `{"x":{"id":"1"}}` }, 0, 1, "expected an array"},
		{"key missing", func(p int) string { return `{"y":[]}` }, 0, 1, `no "x" array`},
		{"negative total", func(p int) string { return `{"x":[],"total":-1}` }, 0, 1, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, hits := pagedServer(t, tc.body)
			n := 0
			err := c.ListPages(context.Background(), "/list", []string{"x"}, 2, func(raw json.RawMessage) error {
				if !json.Valid(raw) {
					t.Errorf("element is not JSON: %s", raw)
				}
				n++
				return nil
			})
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if n != tc.wantItems || hits.Load() != tc.wantHits {
				t.Errorf("items %d hits %d, want %d and %d", n, hits.Load(), tc.wantItems, tc.wantHits)
			}
		})
	}
}

func TestListPagesKeepsBytesAndStopsOnCallbackError(t *testing.T) {
	c, _ := pagedServer(t, func(p int) string { return `{"x":[ {"id": "1",  "n":"a/../b"} , {"id":"2"}],"pages":1}` })
	stop := fmt.Errorf("enough")
	var got []string
	err := c.ListPages(context.Background(), "/list", []string{"x"}, 2, func(raw json.RawMessage) error {
		got = append(got, string(raw))
		return stop
	})
	if err != stop {
		t.Fatalf("err = %v, want the callback's error unwrapped", err)
	}
	if len(got) != 1 || got[0] != `{"id": "1",  "n":"a/../b"}` {
		t.Errorf("element bytes changed: %q", got)
	}
}

func TestGetRawRefusesBrokenJSON(t *testing.T) {
	c, _ := pagedServer(t, func(int) string { return `{"rules":[` })
	if _, err := c.GetRaw(context.Background(), "/rules?x=secret"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want a refusal without the query", err)
	}
}

// FuzzDecodePage: arbitrary envelopes never panic, every element handed out
// is valid JSON, and the element count matches the callback count.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"users":[{"id":"1"},{"id":2}],"page":1,"pages":2,"perPage":2,"total":3}`))
	f.Add([]byte(`{"resources":[{"resourceId":"x","count":1}],"page":1,"perPage":10,"total":1}`))
	f.Add([]byte(`{"users":null}`))
	f.Add([]byte(`{"users":[{"id":"1"`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"pages":999999999,"users":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		info, err := y360.DecodePage(bytes.NewReader(b), []string{"users", "resources"}, func(raw json.RawMessage) error {
			if !json.Valid(raw) {
				t.Fatalf("invalid element %q", raw)
			}
			n++
			return nil
		})
		if info.Items != n {
			t.Fatalf("Items %d, callbacks %d", info.Items, n)
		}
		if err == nil && (info.Pages < 0 || info.Total < 0) {
			t.Fatalf("negative envelope accepted: %+v", info)
		}
	})
}
