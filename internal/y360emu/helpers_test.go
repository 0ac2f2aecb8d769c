package y360emu

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// testServer starts a demo-org emulator with a fixed key and a fake clock.
func testServer(t *testing.T, mod func(*Options)) (*Server, *FakeClock) {
	t.Helper()
	clk := NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	o := DefaultOrg()
	o.Key = []byte("test-key")
	o.Now = clk.Now
	if mod != nil {
		mod(&o)
	}
	s := New(o)
	s.Start()
	t.Cleanup(s.Close)
	return s, clk
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends one request; auth is the full Authorization header value ("" = none).
func call(t *testing.T, method, u, auth string, body io.Reader, ctype string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func form(kv ...string) io.Reader {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode())
}

// exchange posts a token-exchange form with the demo client credentials
// unless overridden by extra key/value pairs.
func exchange(t *testing.T, s *Server, extra ...string) reply {
	t.Helper()
	kv := map[string]string{
		"grant_type":         grantTokenExchange,
		"client_id":          DemoClientID,
		"client_secret":      DemoClientSecret,
		"subject_token_type": subjectUID,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		kv[extra[i]] = extra[i+1]
	}
	var pairs []string
	for k, v := range kv {
		pairs = append(pairs, k, v)
	}
	return call(t, "POST", s.OAuthURL(), "", form(pairs...), "application/x-www-form-urlencoded")
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
