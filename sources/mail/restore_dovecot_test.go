package mail

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources"
)

// Restore scenarios against the real Dovecots (scripts/peers-up.sh):
// Dovecot's own capabilities with "/" (STARTTLS), and Yandex's capability
// list with "|" (plain).
func TestRestoreDovecot(t *testing.T) {
	peers := []struct{ name, env, security string }{
		{"dovecot", "Y360_TEST_DOVECOT_ADDR", SecurityStartTLS},
		{"dovecot-yandex-caps", "Y360_TEST_DOVECOT_YANDEX_ADDR", SecurityPlain},
	}
	scenarios := []struct {
		name string
		fn   func(*testing.T, *restorePeer)
	}{
		{"RoundTrip", scenarioRoundTrip},
		{"PointInTime", scenarioPointInTime},
		{"Policies", scenarioPolicies},
		{"Interrupted", scenarioInterrupted},
		{"CorruptMidLiteral", scenarioCorruptMidLiteral},
	}
	for _, pe := range peers {
		t.Run(pe.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					sc.fn(t, dovecotRestorePeer(t, pe.name, pe.env, pe.security))
				})
			}
			t.Run("Unpipelined", func(t *testing.T) {
				scenarioRoundTrip(t, dovecotRestorePeer(t, pe.name, pe.env, pe.security, func(c *Config) { c.AppendPipeline = 1 }))
			})
		})
	}
}

// Probe logs in, lists and logs out; a refused token is named.
func TestProbeDovecot(t *testing.T) {
	for _, env := range []string{"Y360_TEST_DOVECOT_ADDR", "Y360_TEST_DOVECOT_YANDEX_ADDR"} {
		t.Run(env, func(t *testing.T) {
			addr := peerEnv(t, env)
			email := uniq("probe") + "@example.org"
			cfg := Config{Addr: addr, Security: SecurityPlain}
			n, err := Probe(context.Background(), cfg, userFor(email), &staticTok{tok: dovecotToken(email)})
			if err != nil || n < 4 { // INBOX, Drafts, Sent, Trash (auto-created)
				t.Fatalf("Probe = %d, %v", n, err)
			}
			_, err = Probe(context.Background(), cfg, userFor(email), &staticTok{tok: "SECRET-bad"})
			if !errors.Is(err, sources.ErrUnauthorized) || !containsAll(err.Error(), "AUTHENTICATIONFAILED", addr) ||
				strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("bad token: %v", err)
			}
		})
	}
}

// staticTok is a TokenSource that always gives the same token.
type staticTok struct {
	tok         string
	invalidated int
}

func (s *staticTok) Token(context.Context) (string, error) { return s.tok, nil }
func (s *staticTok) Invalidate(string)                     { s.invalidated++ }

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
