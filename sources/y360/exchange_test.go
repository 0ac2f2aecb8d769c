package y360_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

var (
	alice   = sources.User{ID: "1130000000000001", Email: "alice@demo.y360.test", Enabled: true}
	mallory = sources.User{ID: "1130000000000007", Email: "mallory@demo.y360.test"}
)

func TestExchangeToken(t *testing.T) {
	e := newEnv(t, nil, nil)
	tok, err := e.c.ExchangeToken(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if email, ok := e.emu.ValidateToken(tok.AccessToken); !ok || email != alice.Email {
		t.Errorf("minted token validates as %q %v", email, ok)
	}
	if tok.ExpiresIn != time.Hour || !tok.Obtained.Equal(e.clk.Now()) || !strings.Contains(tok.Scope, "mail:imap_ro") {
		t.Errorf("token %v obtained %v", tok, tok.Obtained)
	}
	if strings.Contains(tok.String(), tok.AccessToken) {
		t.Error("Token.String shows the token")
	}
	if n := e.emu.Count("/token"); n != 1 {
		t.Errorf("%d exchanges", n)
	}
}

func TestExchangeFallsBackToEmail(t *testing.T) {
	e := newEnv(t, func(o *y360emu.Options) { o.UIDSubjectRefused = true }, nil)
	tok, err := e.c.ExchangeToken(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if email, _ := e.emu.ValidateToken(tok.AccessToken); email != alice.Email {
		t.Errorf("token for %q", email)
	}
	if n := e.emu.Count("/token"); n != 2 {
		t.Errorf("%d exchanges, want uid then email", n)
	}
	// No email to fall back to: one try, clear error.
	_, err = e.c.ExchangeToken(context.Background(), sources.User{ID: alice.ID})
	if err == nil || !strings.Contains(err.Error(), "not known to Yandex ID") || e.emu.Count("/token") != 3 {
		t.Errorf("err %v after %d exchanges", err, e.emu.Count("/token"))
	}
	// Users without a uid go straight to the email form.
	if _, err := e.c.ExchangeToken(context.Background(), sources.User{Email: "bob@demo.y360.test"}); err != nil {
		t.Errorf("email-only user: %v", err)
	}
}

func TestExchangeRequestsScopes(t *testing.T) {
	e := newEnv(t, nil, func(c *y360.Config) { c.Scopes = []string{"mail:imap_ro", "calendar:all"} })
	tok, err := e.c.ExchangeToken(context.Background(), alice)
	if err != nil || tok.Scope != "mail:imap_ro calendar:all" {
		t.Fatalf("scope %q, %v", tok.Scope, err)
	}
}

func TestExchangeErrors(t *testing.T) {
	cases := []struct {
		name   string
		emu    func(*y360emu.Server)
		cfg    func(*y360.Config)
		user   sources.User
		oauth  string // OAuth error name expected in the APIError
		phrase string // what the admin is told to check
		orgErr bool   // whole-org credential problem (sources.ErrOrgCredentials)
	}{
		{"bad secret", nil, func(c *y360.Config) { c.ClientSecret = "wrong-secret-value" }, alice,
			"invalid_client", "client_id or client_secret is wrong", true},
		{"bad client id", nil, func(c *y360.Config) { c.ClientID = "unknown-app" }, alice,
			"invalid_client", "compare client_id/client_secret in the config", true},
		{"not a service app", func(s *y360emu.Server) { s.SetServiceApps(nil) }, nil, alice,
			"unauthorized_client", "not in this organization's service-application list", true},
		{"feature not active", func(s *y360emu.Server) { s.SetFeatureActive(false) }, nil, alice,
			"unauthorized_client", "service applications are not active in this organization", true},
		{"blocked user", nil, nil, mallory, "invalid_grant", "the user is blocked", false},
		{"scope missing", nil, func(c *y360.Config) { c.Scopes = []string{"mail:imap_full"} }, alice,
			"invalid_scope", "scope the backup needs is not granted", false},
		{"unknown user", nil, nil, sources.User{ID: "42", Email: "ghost@demo.y360.test"}, "invalid_grant",
			"not known to Yandex ID", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil, tc.cfg)
			if tc.emu != nil {
				tc.emu(e.emu)
			}
			_, err := e.c.ExchangeToken(context.Background(), tc.user)
			var ae *y360.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if ae.Name != tc.oauth || ae.Status != 400 {
				t.Errorf("APIError %d %q, want 400 %q", ae.Status, ae.Name, tc.oauth)
			}
			if !strings.Contains(err.Error(), tc.phrase) {
				t.Errorf("message %q\nlacks %q", err, tc.phrase)
			}
			if !strings.Contains(err.Error(), "token exchange for user uid "+tc.user.ID) {
				t.Errorf("message does not name the user: %q", err)
			}
			if !y360.IsPermanent(err) {
				t.Errorf("not permanent: %v", err)
			}
			if got := errors.Is(err, sources.ErrOrgCredentials); got != tc.orgErr {
				t.Errorf("errors.Is(err, ErrOrgCredentials) = %v, want %v", got, tc.orgErr)
			}
			e.errorMustNotLeak(t, err)
			if strings.Contains(err.Error(), "wrong-secret-value") {
				t.Errorf("leaks the configured secret: %v", err)
			}
		})
	}
}

func TestExchangeWithoutServiceApp(t *testing.T) {
	e := newEnv(t, nil, func(c *y360.Config) { c.ClientID, c.ClientSecret = "", "" })
	if _, err := e.c.ExchangeToken(context.Background(), alice); !errors.Is(err, y360.ErrNoServiceApp) {
		t.Errorf("err = %v", err)
	}
	if e.emu.Count("/token") != 0 {
		t.Error("exchange attempted without credentials")
	}
}

// A 5xx on the token endpoint is retried with the same form body (GetBody replay).
func TestExchangeRetriesWithReplayedBody(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.FailNext("/token", 503, 2)
	tok, err := e.c.ExchangeToken(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if email, _ := e.emu.ValidateToken(tok.AccessToken); email != alice.Email || e.emu.Count("/token") != 3 {
		t.Errorf("token for %q after %d requests", email, e.emu.Count("/token"))
	}
}
