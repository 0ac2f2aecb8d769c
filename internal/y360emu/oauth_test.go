package y360emu

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const aliceID = "1130000000000001"

func TestTokenExchange(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(*Server)
		form     []string
		status   int
		errName  string
		descHas  string
		wantUser string
	}{
		{name: "uid", form: []string{"subject_token", aliceID}, status: 200, wantUser: "alice@demo.y360.test"},
		{name: "email", form: []string{"subject_token", "Alice@demo.y360.test", "subject_token_type", subjectEmail}, status: 200, wantUser: "alice@demo.y360.test"},
		{name: "bad secret", form: []string{"subject_token", aliceID, "client_secret", "nope"}, status: 400, errName: "invalid_client", descHas: "client"},
		{name: "bad client id", form: []string{"subject_token", aliceID, "client_id", "nope"}, status: 400, errName: "invalid_client"},
		{name: "unknown uid", form: []string{"subject_token", "42"}, status: 400, errName: "invalid_grant", descHas: "not found"},
		{name: "blocked", form: []string{"subject_token", "1130000000000007"}, status: 400, errName: "invalid_grant", descHas: "blocked"},
		{name: "bad grant", form: []string{"subject_token", aliceID, "grant_type", "password"}, status: 400, errName: "unsupported_grant_type"},
		{name: "bad subject type", form: []string{"subject_token", aliceID, "subject_token_type", "x"}, status: 400, errName: "invalid_request"},
		{name: "not a service app", setup: func(s *Server) { s.SetServiceApps([]ServiceApp{{ID: "other", Scopes: []string{"mail:imap_ro"}}}) },
			form: []string{"subject_token", aliceID}, status: 400, errName: "unauthorized_client", descHas: "not a service application"},
		{name: "feature inactive", setup: func(s *Server) { s.SetFeatureActive(false) },
			form: []string{"subject_token", aliceID}, status: 400, errName: "unauthorized_client", descHas: "not active"},
		{name: "scope subset", form: []string{"subject_token", aliceID, "scope", "mail:imap_ro"}, status: 200, wantUser: "alice@demo.y360.test"},
		{name: "scope not granted", form: []string{"subject_token", aliceID, "scope", "mail:imap_full"}, status: 400, errName: "invalid_scope", descHas: "scope"},
		{name: "uid refused", setup: func(s *Server) { s.SetUIDSubjectRefused(true) },
			form: []string{"subject_token", aliceID}, status: 400, errName: "invalid_grant", descHas: "not found"},
		{name: "uid refused, email works", setup: func(s *Server) { s.SetUIDSubjectRefused(true) },
			form: []string{"subject_token", "alice@demo.y360.test", "subject_token_type", subjectEmail}, status: 200, wantUser: "alice@demo.y360.test"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := testServer(t, nil)
			if tc.setup != nil {
				tc.setup(s)
			}
			r := exchange(t, s, tc.form...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.errName != "" {
				if got := str(r.body, "error"); got != tc.errName {
					t.Errorf("error %q, want %q", got, tc.errName)
				}
				if !strings.Contains(strings.ToLower(str(r.body, "error_description")), tc.descHas) {
					t.Errorf("description %q lacks %q", str(r.body, "error_description"), tc.descHas)
				}
				if _, has := r.body["access_token"]; has {
					t.Error("error answer carries a token")
				}
				return
			}
			tok := str(r.body, "access_token")
			if !strings.HasPrefix(tok, TokenPrefix) {
				t.Fatalf("token %q lacks prefix", tok)
			}
			if r.body["expires_in"] != float64(3600) || str(r.body, "token_type") != "bearer" ||
				str(r.body, "issued_token_type") != issuedAccessToken {
				t.Errorf("bad success body: %s", r.raw)
			}
			email, ok := s.ValidateToken(tok)
			if !ok || email != tc.wantUser {
				t.Errorf("ValidateToken = %q, %v; want %q", email, ok, tc.wantUser)
			}
		})
	}
}

func TestTokenScopes(t *testing.T) {
	s, _ := testServer(t, nil)
	r := exchange(t, s, "subject_token", aliceID)
	if got := str(r.body, "scope"); got != strings.Join(DefaultScopes(), " ") {
		t.Errorf("scope %q", got)
	}
	// A user with restricted scopes gets the intersection.
	s.AddUsers(User{ID: "1130000000000099", Email: "zed@demo.y360.test", Scopes: []string{"calendar:all"}})
	r = exchange(t, s, "subject_token", "1130000000000099")
	if got := str(r.body, "scope"); got != "calendar:all" {
		t.Errorf("restricted scope %q", got)
	}
	c, err := s.Verify(str(r.body, "access_token"))
	if err != nil || !c.HasScope("calendar:all") || c.HasScope("mail:imap_ro") {
		t.Errorf("claims %+v, %v", c, err)
	}
}

func TestTokenValidation(t *testing.T) {
	s, clk := testServer(t, nil)
	tok := str(exchange(t, s, "subject_token", aliceID).body, "access_token")

	same := New(Options{Key: []byte("test-key"), Now: clk.Now}) // another instance, empty org
	if email, ok := same.ValidateToken(tok); !ok || email != "alice@demo.y360.test" {
		t.Errorf("same key: %q %v", email, ok)
	}
	other := New(Options{Key: []byte("other-key"), Now: clk.Now})
	if _, err := other.Verify(tok); err != ErrTokenSignature {
		t.Errorf("other key: %v", err)
	}
	// Tampering with the payload breaks the signature.
	if _, err := s.Verify(tok[:len(TokenPrefix)+3] + "x" + tok[len(TokenPrefix)+4:]); err == nil {
		t.Error("tampered token accepted")
	}
	for _, bad := range []string{"", "y0_emu.", "y0_emu.abc", "AQAAAA-real-looking", "y0_emu.!!.!!"} {
		if _, ok := s.ValidateToken(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}

	clk.Advance(59 * time.Minute)
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("after 59m: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := s.Verify(tok); err != ErrTokenExpired {
		t.Errorf("after 60m: %v", err)
	}
}

func TestTokenRevokeBlockLifetime(t *testing.T) {
	s, clk := testServer(t, nil)
	bobID := "1130000000000002"
	tok := str(exchange(t, s, "subject_token", aliceID).body, "access_token")
	bob := str(exchange(t, s, "subject_token", bobID).body, "access_token")

	if err := s.SetBlocked("bob@demo.y360.test", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(bob); err != ErrUserBlocked {
		t.Errorf("blocked user's token: %v", err)
	}
	if err := s.SetBlocked("nobody", true); err == nil {
		t.Error("SetBlocked(nobody) succeeded")
	}

	s.RevokeAllTokens()
	if _, err := s.Verify(tok); err != ErrTokenRevoked {
		t.Errorf("revoked: %v", err)
	}
	fresh := str(exchange(t, s, "subject_token", aliceID).body, "access_token")
	if _, err := s.Verify(fresh); err != nil {
		t.Errorf("token minted after revoke: %v", err)
	}

	s.SetTokenLifetime(1500 * time.Millisecond) // rounded up to 2s
	r := exchange(t, s, "subject_token", aliceID)
	if r.body["expires_in"] != float64(2) {
		t.Errorf("expires_in %v, want 2", r.body["expires_in"])
	}
	short := str(r.body, "access_token")
	clk.Advance(2 * time.Second)
	if _, err := s.Verify(short); err != ErrTokenExpired {
		t.Errorf("short token after 2s: %v", err)
	}
	if _, err := s.Verify(fresh); err != nil {
		t.Errorf("1h token after 2s: %v", err)
	}

	s.SetFeatureActive(false)
	if _, err := s.Verify(fresh); err != ErrTokenRevoked {
		t.Errorf("feature off: %v", err)
	}
}

func TestMintTokenAndIntrospect(t *testing.T) {
	s, _ := testServer(t, nil)
	want := "stranger-" + t.Name() + "@example.org"
	tok := s.MintToken(want)
	tests := []struct {
		name   string
		do     func() reply
		status int
	}{
		{"form", func() reply {
			return call(t, "POST", s.IntrospectURL(), "", form("token", tok), "application/x-www-form-urlencoded")
		}, 200},
		{"query", func() reply { return call(t, "GET", s.IntrospectURL()+"?token="+tok, "", nil, "") }, 200},
		{"bearer", func() reply { return call(t, "POST", s.IntrospectURL(), "Bearer "+tok, nil, "") }, 200},
		{"bad", func() reply {
			return call(t, "POST", s.IntrospectURL(), "", form("token", "valid-nope"), "application/x-www-form-urlencoded")
		}, 401},
		{"none", func() reply { return call(t, "POST", s.IntrospectURL(), "", nil, "") }, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.do()
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if tc.status == 401 {
				if r.body["active"] != false {
					t.Errorf("body %s", r.raw)
				}
				return
			}
			if r.body["active"] != true || str(r.body, "username") != want {
				t.Errorf("body %s", r.raw)
			}
		})
	}
	// A known user's minted token carries its uid.
	c, err := s.Verify(s.MintToken("carol@demo.y360.test", "mail:imap_ro"))
	if err != nil || c.Subject != "1130000000000003" || len(c.Scopes) != 1 {
		t.Errorf("claims %+v, %v", c, err)
	}
}

func TestTokenEndpointRejectsGet(t *testing.T) {
	s, _ := testServer(t, nil)
	if r := call(t, "GET", s.OAuthURL(), "", nil, ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /token: %d", r.status)
	}
}

func TestBenchTokens(t *testing.T) {
	o := DefaultOrg()
	o.BenchTokens = true
	s := New(o)
	tok := s.MintToken("alice@demo.y360.test")
	if tok != "valid-alice@demo.y360.test" {
		t.Fatalf("bench token %q", tok)
	}
	if email, ok := s.ValidateToken(tok); !ok || email != "alice@demo.y360.test" {
		t.Errorf("validate: %q %v", email, ok)
	}
	if _, ok := New(DefaultOrg()).ValidateToken(tok); ok {
		t.Error("a normal emulator accepts a bench token")
	}
}
