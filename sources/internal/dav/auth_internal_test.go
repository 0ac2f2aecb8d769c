package dav

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestAuthClient(t *testing.T) {
	type seen struct{ auth, body string }
	tests := []struct {
		name      string
		basic     string
		reject    map[string]bool // Authorization values answered with 401
		wantCode  int
		wantErr   error
		wantSeen  []seen
		wantInval int
	}{
		{name: "oauth header", wantCode: 207, wantSeen: []seen{{"OAuth t1", "<x/>"}}},
		{name: "basic header", basic: "a@x", wantCode: 207, wantSeen: []seen{{"Basic YUB4OnQx", "<x/>"}}},
		{name: "401 once: re-mint and replay the body", reject: map[string]bool{"OAuth t1": true}, wantCode: 207, wantInval: 1,
			wantSeen: []seen{{"OAuth t1", "<x/>"}, {"OAuth t2", "<x/>"}}},
		{name: "401 twice: unauthorized", reject: map[string]bool{"OAuth t1": true, "OAuth t2": true}, wantErr: sources.ErrUnauthorized, wantInval: 1,
			wantSeen: []seen{{"OAuth t1", "<x/>"}, {"OAuth t2", "<x/>"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []seen
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got = append(got, seen{r.Header.Get("Authorization"), string(b)})
				mu.Unlock()
				if tc.reject[r.Header.Get("Authorization")] {
					http.Error(w, "no", http.StatusUnauthorized)
					return
				}
				w.WriteHeader(http.StatusMultiStatus)
			}))
			defer ts.Close()
			tok := &sourcetest.StaticTokens{Tok: "t1", Next: func() string { return "t2" }}
			ac := &AuthClient{HC: ts.Client(), Tok: tok, Basic: tc.basic, Source: "calendar", Timeout: 5 * time.Second}
			req, _ := http.NewRequest("PROPFIND", ts.URL+"/p/", strings.NewReader("<x/>"))
			resp, err := ac.Do(req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "t1") || strings.Contains(err.Error(), "t2") {
					t.Errorf("error leaks a token: %v", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.wantCode {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
			if tok.Invalidated != tc.wantInval {
				t.Errorf("Invalidate called %d times, want %d", tok.Invalidated, tc.wantInval)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(tc.wantSeen) {
				t.Fatalf("server saw %v, want %v", got, tc.wantSeen)
			}
			for i := range got {
				if got[i] != tc.wantSeen[i] {
					t.Errorf("request %d = %+v, want %+v", i, got[i], tc.wantSeen[i])
				}
			}
		})
	}
}

func TestAuthClientTimeout(t *testing.T) {
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(block)
	ac := &AuthClient{HC: ts.Client(), Tok: &sourcetest.StaticTokens{Tok: "t"}, Timeout: 50 * time.Millisecond}
	req, _ := http.NewRequest("GET", ts.URL, nil)
	t0 := time.Now()
	if _, err := ac.Do(req); err == nil {
		t.Fatal("no error from a hung server")
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("timeout took %v", el)
	}
}

func TestStatusErrorIs(t *testing.T) {
	if !errors.Is(&StatusError{Code: 404}, sources.ErrNotFound) || errors.Is(&StatusError{Code: 404}, sources.ErrUnauthorized) {
		t.Error("404 classification")
	}
	if !errors.Is(&StatusError{Code: 401}, sources.ErrUnauthorized) || errors.Is(&StatusError{Code: 500}, sources.ErrNotFound) {
		t.Error("401/500 classification")
	}
}
