package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

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

// A 100 MiB message is restored from a stream with bounded memory: the
// body goes from the item's reader to the socket two chunks at a time.
func TestRestoreHugeMessageDovecot(t *testing.T) {
	const size = 100 << 20
	addr := peerEnv(t, "Y360_TEST_DOVECOT_YANDEX_ADDR")
	email := uniq("huge") + "@example.org"
	src := New(Config{Addr: addr, Security: SecurityPlain, Timeout: time.Minute})
	h := sha256.New()
	io.Copy(h, hugeMessage(size))
	m := meta{UID: 1, Flags: []string{`\Seen`}, Date: baseDate.Format(time.RFC3339), Size: size, MessageID: "huge@example.org"}
	item := sources.RestoreItem{
		Item: sources.Item{ID: "1/1", Hash: hex.EncodeToString(h.Sum(nil)), Size: size, Meta: m.encode()},
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(hugeMessage(size)), nil },
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	n, err := src.RestoreContainer(context.Background(), userFor(email), &staticTok{tok: dovecotToken(email)},
		sources.RestoreTarget{Original: "INBOX"}, []sources.RestoreItem{item}, func(id string, err error) { t.Errorf("%s: %v", id, err) })
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || n != 1 {
		t.Fatalf("restore: %d, %v", n, err)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("100 MiB message restored in %v (%.0f MB/s), %.2f MiB allocated", elapsed.Round(time.Millisecond),
		float64(size)/1e6/elapsed.Seconds(), float64(allocated)/(1<<20))
	if allocated > 16<<20 {
		t.Errorf("memory grew with the message: %d bytes allocated", allocated)
	}
	c := newSeeder(t, addr, email).c
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{RFC822Size: true, Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].RFC822Size != size {
		t.Fatalf("server holds %v, %v; want one message of %d bytes", msgs, err, size)
	}
	// Nothing twice on a rerun (the index matches Message-Id and size).
	if n, err := src.RestoreContainer(context.Background(), userFor(email), &staticTok{tok: dovecotToken(email)},
		sources.RestoreTarget{Original: "INBOX"}, []sources.RestoreItem{item}, func(string, error) {}); n != 0 || err != nil {
		t.Fatalf("rerun: %d, %v", n, err)
	}
}
