package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOAuth is a small Yandex-ID-like OAuth server: /authorize "consents" at
// once and redirects with a code; /token serves authorization_code (with
// PKCE S256) and refresh_token grants.
type fakeOAuth struct {
	*httptest.Server
	t          *testing.T
	mu         sync.Mutex
	challenges map[string]string // code → code_challenge
	redirects  map[string]string // code → redirect_uri
	refresh    string            // the currently valid refresh token
	issued     int
	deny       bool
	noRefresh  bool
}

const (
	fakeClientID = "admin-app-id"
	fakeSecret   = "admin-app-secret-do-not-log"
)

func newFakeOAuth(t *testing.T) *fakeOAuth {
	f := &fakeOAuth{t: t, challenges: map[string]string{}, redirects: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ru, err := url.Parse(q.Get("redirect_uri"))
		if err != nil || ru.Hostname() != "127.0.0.1" || q.Get("client_id") != fakeClientID ||
			q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad authorize request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		back := url.Values{"state": {q.Get("state")}}
		if f.deny {
			back.Set("error", "access_denied")
			back.Set("error_description", "the user said no")
		} else {
			f.mu.Lock()
			code := fmt.Sprintf("code-%d", len(f.challenges)+1)
			f.challenges[code] = q.Get("code_challenge")
			f.redirects[code] = q.Get("redirect_uri")
			f.mu.Unlock()
			back.Set("code", code)
		}
		http.Redirect(w, r, ru.String()+"?"+back.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fail := func(code, desc string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		}
		if r.PostForm.Get("client_id") != fakeClientID || r.PostForm.Get("client_secret") != fakeSecret {
			fail("invalid_client", "bad client")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			code := r.PostForm.Get("code")
			ch, ok := f.challenges[code]
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != ch || r.PostForm.Get("redirect_uri") != f.redirects[code] {
				fail("invalid_grant", "bad code, verifier or redirect_uri")
				return
			}
			delete(f.challenges, code)
		case "refresh_token":
			if f.refresh == "" || r.PostForm.Get("refresh_token") != f.refresh {
				fail("invalid_grant", "bad refresh token")
				return
			}
		default:
			fail("unsupported_grant_type", "")
			return
		}
		f.issued++
		ans := map[string]any{"access_token": fmt.Sprintf("y0_ACCESS-%d", f.issued), "token_type": "bearer", "expires_in": 31536000,
			"scope": "directory:read_users"}
		if !f.noRefresh {
			f.refresh = fmt.Sprintf("1:REFRESH-%d", f.issued)
			ans["refresh_token"] = f.refresh
		}
		json.NewEncoder(w).Encode(ans)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// follow plays the browser: open the URL and follow redirects to the callback.
func follow(t *testing.T, got chan<- string) func(string) {
	return func(u string) {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- string(b)
		}()
	}
}

func TestAuthLoginAndRefresh(t *testing.T) {
	f := newFakeOAuth(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin-token")
	page := make(chan string, 1)
	o := authOptions{
		clientID: fakeClientID, authorizeURL: f.URL + "/authorize", tokenURL: f.URL + "/token",
		port: 0, tokenFile: tokenFile, timeout: 10 * time.Second, openURL: follow(t, page),
		scopes: []string{"directory:read_users"},
	}
	var out bytes.Buffer
	if err := authLogin(context.Background(), o, fakeSecret, &out); err != nil {
		t.Fatalf("login: %v\n%s", err, out.String())
	}
	if p := <-page; !strings.Contains(p, "You can close this tab") {
		t.Errorf("browser page: %q", p)
	}
	assertSecretFile(t, tokenFile, "y0_ACCESS-1\n")
	rf := readRefresh(t, tokenFile)
	if rf.RefreshToken != "1:REFRESH-1" || rf.ClientID != fakeClientID || rf.TokenURL != f.URL+"/token" {
		t.Errorf("refresh file: %+v", rf)
	}
	text := out.String()
	for _, secret := range []string{"y0_ACCESS", "REFRESH-", fakeSecret, "code-1"} {
		if strings.Contains(text, secret) {
			t.Errorf("output shows %q:\n%s", secret, text)
		}
	}
	if !strings.Contains(text, "saved to "+tokenFile) || !strings.Contains(text, "auth refresh") {
		t.Errorf("output: %s", text)
	}

	// Refresh: new access token, rotated refresh token, both 0600.
	out.Reset()
	if err := authRefresh(context.Background(), authOptions{clientID: fakeClientID, tokenURL: defaultTokenURL, tokenFile: tokenFile}, fakeSecret, &out); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	assertSecretFile(t, tokenFile, "y0_ACCESS-2\n")
	if rf := readRefresh(t, tokenFile); rf.RefreshToken != "1:REFRESH-2" {
		t.Errorf("rotated refresh token not saved: %+v", rf)
	}
	// The old refresh token is now invalid at the server: a stale file fails clearly.
	b, _ := os.ReadFile(tokenFile + ".refresh.json")
	os.WriteFile(tokenFile+".refresh.json", bytes.Replace(b, []byte("REFRESH-2"), []byte("REFRESH-1"), 1), 0o600)
	err := authRefresh(context.Background(), authOptions{clientID: fakeClientID, tokenURL: f.URL + "/token", tokenFile: tokenFile}, fakeSecret, &out)
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || strings.Contains(err.Error(), "REFRESH") {
		t.Errorf("stale refresh: %v", err)
	}
}

func TestAuthLoginFailures(t *testing.T) {
	f := newFakeOAuth(t)
	dir := t.TempDir()
	base := authOptions{clientID: fakeClientID, authorizeURL: f.URL + "/authorize", tokenURL: f.URL + "/token",
		tokenFile: filepath.Join(dir, "tok"), timeout: 5 * time.Second}

	f.deny = true
	page := make(chan string, 1)
	o := base
	o.openURL = follow(t, page)
	err := authLogin(context.Background(), o, fakeSecret, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("denied consent: %v", err)
	}
	<-page
	f.deny = false

	o.openURL = follow(t, page)
	err = authLogin(context.Background(), o, "wrong-secret", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong secret: %v", err)
	}
	<-page
	if _, err := os.Stat(base.tokenFile); !os.IsNotExist(err) {
		t.Error("a failed login wrote a token file")
	}

	// A forged callback (wrong state) is refused and the login keeps waiting.
	o.openURL = func(u string) {
		q, _ := url.Parse(u)
		cb := q.Query().Get("redirect_uri")
		resp, err := http.Get(cb + "?code=evil&state=forged")
		if err == nil {
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("forged callback answered %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		follow(t, page)(u)
	}
	if err := authLogin(context.Background(), o, fakeSecret, io.Discard); err != nil {
		t.Errorf("login after a forged callback: %v", err)
	}
	<-page

	o.openURL = nil // nobody opens the URL
	o.timeout = 100 * time.Millisecond
	if err := authLogin(context.Background(), o, fakeSecret, io.Discard); err == nil || !strings.Contains(err.Error(), "no redirect") {
		t.Errorf("timeout: %v", err)
	}

	f.noRefresh = true
	o.openURL, o.timeout, o.tokenFile = follow(t, page), 5*time.Second, filepath.Join(dir, "tok2")
	if err := authLogin(context.Background(), o, fakeSecret, io.Discard); err != nil {
		t.Fatal(err)
	}
	<-page
	if _, err := os.Stat(o.tokenFile + ".refresh.json"); !os.IsNotExist(err) {
		t.Error("a refresh file was written although no refresh token was issued")
	}
	if err := authRefresh(context.Background(), o, fakeSecret, io.Discard); err == nil || !strings.Contains(err.Error(), "auth login") {
		t.Errorf("refresh without a refresh token: %v", err)
	}
}

func assertSecretFile(t *testing.T, file, want string) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", file, fi.Mode().Perm())
	}
	b, _ := os.ReadFile(file)
	if string(b) != want {
		t.Errorf("%s holds %q, want %q", file, b, want)
	}
}

func readRefresh(t *testing.T, tokenFile string) refreshFile {
	t.Helper()
	assertMode(t, tokenFile+".refresh.json")
	b, err := os.ReadFile(tokenFile + ".refresh.json")
	if err != nil {
		t.Fatal(err)
	}
	var rf refreshFile
	if err := json.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	return rf
}

func assertMode(t *testing.T, file string) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", file, fi.Mode().Perm())
	}
}
