package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestRestoreDemo(t *testing.T) {
	for _, sc := range []struct {
		name string
		fn   func(*testing.T, *restorePeer)
	}{
		{"RoundTrip", scenarioRoundTrip},
		{"PointInTime", scenarioPointInTime},
		{"Policies", scenarioPolicies},
		{"Interrupted", scenarioInterrupted},
	} {
		t.Run(sc.name, func(t *testing.T) {
			for _, window := range []int{1, 8} {
				t.Run(fmt.Sprintf("pipeline%d", window), func(t *testing.T) {
					sc.fn(t, demoPeer(t, nil, func(c *Config) { c.AppendPipeline = window }))
				})
			}
		})
	}
}

// A message the server refuses after its literal (NO [TOOBIG]) and one over
// the advertised APPENDLIMIT (never sent) are reported; the rest is restored.
func TestRestoreAppendRefusedDemo(t *testing.T) {
	const refuse = 5000
	p := demoPeer(t, &imapdemo.Options{AppendLimit: 1 << 20, OnAppend: func(email, mailbox string, size int64) error {
		if size > refuse {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too large"}
		}
		return nil
	}})
	email := uniq("big") + "@example.org"
	s := p.client(t, email)
	id := uniq("big")
	// Seeded directly: the server refuses these sizes over IMAP.
	var uids []imap.UID
	for i, size := range []int{1, 2 * refuse, 1, 2 << 20} {
		uid, err := p.demo.Append(email, "INBOX", message(fmt.Sprintf("%s-%d", id, i), "sizes", strings.Repeat("s", size)), nil, baseDate)
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	tooBig, overLimit := uids[1], uids[3]
	before := s.read("INBOX")
	uv, _ := p.demo.UIDValidity(email, "INBOX")
	snap := p.backup(t, email)
	s.wipe()
	opts := p.opts(snap)
	opts.InPlace = true
	rep, err := p.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Written != 2 || rep.Failed != 2 || len(rep.Failures) != 2 {
		t.Fatalf("report %+v, want 2 written and 2 failures", rep)
	}
	joined := strings.Join(rep.Failures, "\n")
	for _, want := range []string{
		fmt.Sprintf(`"INBOX" %d/%d: APPEND: imap: NO [TOOBIG]`, uv, tooBig),
		fmt.Sprintf(`"INBOX" %d/%d: message of 2097`, uv, overLimit),
		"(APPENDLIMIT=1048576)",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("failures %q lack %q", rep.Failures, want)
		}
	}
	sameMessages(t, "INBOX", s.read("INBOX"), []stored{before[0], before[2]})
	if a := p.demo.Stats().Appends; a != 2 {
		t.Errorf("%d APPENDs stored, want 2", a)
	}
}

// Keywords the folder cannot store (PERMANENTFLAGS without \*) are dropped,
// system flags kept; \Recent never goes out.
func TestRestorePermanentFlagsDemo(t *testing.T) {
	p := demoPeer(t, &imapdemo.Options{PermanentFlags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagDeleted, "$Forwarded"}})
	email := uniq("perm") + "@example.org"
	s := p.client(t, email)
	s.append("INBOX", message(uniq("perm"), "kw", "x"), baseDate, imap.FlagSeen, "$Forwarded", "$Custom", imap.FlagAnswered)
	snap := p.backup(t, email)
	s.wipe()
	opts := p.opts(snap)
	opts.InPlace = true
	p.restore(t, opts)
	got := s.read("INBOX")
	if len(got) != 1 || strings.Join(got[0].flags, " ") != `$Forwarded \Answered \Seen` {
		t.Fatalf("restored flags %v, want $Forwarded \\Answered \\Seen", got)
	}
}

// A refused token is invalidated once and the restore goes on.
func TestRestoreTokenRefusedOnceDemo(t *testing.T) {
	p := demoPeer(t, nil)
	email := uniq("tok") + "@example.org"
	s := p.client(t, email)
	s.append("INBOX", message(uniq("tok"), "t", "x"), baseDate)
	snap := p.backup(t, email)
	s.wipe()
	tok := &sourcetest.StaticTokens{Tok: "expired", Next: func() string { return "tok-" + email }}
	opts := p.opts(snap)
	opts.InPlace = true
	opts.Tokens = func(sources.User) sources.TokenSource { return tok }
	if rep := p.restore(t, opts); rep.Written != 1 || tok.Invalidated != 1 {
		t.Fatalf("written %d, Invalidate called %d times", rep.Written, tok.Invalidated)
	}

	// A token refused twice ends the container with ErrUnauthorized and
	// names the write scope; no token in the error.
	bad := &sourcetest.StaticTokens{Tok: "SECRET-0", Next: func() string { return "SECRET-1" }}
	n, err := p.src.RestoreContainer(context.Background(), userFor(email), bad, sources.RestoreTarget{Original: "INBOX"},
		[]sources.RestoreItem{{Item: sources.Item{ID: "1/1", Size: 1}}}, func(string, error) {})
	if n != 0 || !errors.Is(err, sources.ErrUnauthorized) || !strings.Contains(err.Error(), "mail:imap_full") ||
		!strings.Contains(err.Error(), "AUTHENTICATIONFAILED") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("twice refused: %d, %v", n, err)
	}
}

// A corrupt object in the repository fails its item before anything is
// sent; the others are restored.
func TestRestoreCorruptObjectDemo(t *testing.T) {
	p := demoPeer(t, nil)
	email := uniq("corrupt") + "@example.org"
	s := p.client(t, email)
	id := uniq("c")
	for i := 0; i < 3; i++ {
		s.append("INBOX", message(fmt.Sprintf("%s-%d", id, i), "c", strings.Repeat("q", i+1)), baseDate)
	}
	before := s.read("INBOX")
	snap := p.backup(t, email)
	s.wipe()
	appends := p.demo.Stats().Appends
	sum := sha256.Sum256(before[1].body)
	if err := p.repo.DamageObject(context.Background(), hex.EncodeToString(sum[:]), func(key string, data []byte) error {
		p.sink.(*mem.Sink).Corrupt(key, data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	opts := p.opts(snap)
	opts.InPlace = true
	rep, err := p.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Written != 2 || rep.Failed != 1 {
		t.Fatalf("report %+v, want 2 written, 1 failed", rep)
	}
	sameMessages(t, "INBOX", s.read("INBOX"), []stored{before[0], before[2]})
	if a := p.demo.Stats().Appends - appends; a != 2 {
		t.Fatalf("%d APPENDs stored, want 2", a)
	}
}

// corruptAfter yields n good bytes, then fails as the repository's verifying
// reader does when the content does not match its hash.
type corruptAfter struct {
	r io.Reader
}

func (c *corruptAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, errors.New("repository: object is corrupt")
	}
	return n, err
}

// A body that turns out corrupt after the APPEND literal has begun is
// abandoned with the connection (the server never sees its last byte);
// the item fails, the rest is restored after a reconnect, nothing twice.
func TestRestoreCorruptMidLiteralDemo(t *testing.T) {
	for _, window := range []int{1, 8} {
		t.Run(fmt.Sprint(window), func(t *testing.T) {
			p := demoPeer(t, nil, func(c *Config) { c.AppendPipeline = window })
			scenarioCorruptMidLiteral(t, p)
			if logins := p.demo.Stats().Logins; logins < 3 { // test client + first attempt + reconnect
				t.Errorf("%d logins: the connection was not re-established", logins)
			}
		})
	}
}

// scenarioCorruptMidLiteral: see TestRestoreCorruptMidLiteralDemo.
func scenarioCorruptMidLiteral(t *testing.T, p *restorePeer) {
	t.Helper()
	email := uniq("mid") + "@example.org"
	id := uniq("mid")
	var items []sources.RestoreItem
	var want []string
	for i := 0; i < 6; i++ {
		body := message(fmt.Sprintf("%s-%d", id, i), "m", strings.Repeat("z", 3*bodyChunk+i))
		sum := sha256.Sum256(body)
		m := meta{UID: uint32(i + 1), Flags: []string{`\Seen`}, Date: baseDate.Format(time.RFC3339), Size: int64(len(body)),
			MessageID: fmt.Sprintf("%s-%d@example.org", id, i)}
		bad := i == 3
		items = append(items, sources.RestoreItem{
			Item: sources.Item{ID: fmt.Sprintf("7/%d", i+1), Hash: hex.EncodeToString(sum[:]), Size: int64(len(body)), Meta: m.encode()},
			Open: func(ctx context.Context) (io.ReadCloser, error) {
				var r io.Reader = strings.NewReader(string(body))
				if bad {
					r = &corruptAfter{r: r}
				}
				return io.NopCloser(r), nil
			},
		})
		if !bad {
			want = append(want, string(body))
		}
	}
	var failed []string
	n, err := p.src.RestoreContainer(context.Background(), userFor(email), p.tokens(userFor(email)),
		sources.RestoreTarget{Original: "INBOX", Policy: sources.PolicySkip}, items,
		func(item string, err error) { failed = append(failed, item+": "+err.Error()) })
	if err != nil || n != 5 || len(failed) != 1 || !strings.HasPrefix(failed[0], "7/4: ") {
		t.Fatalf("restore: %d written, %v, failures %q", n, err, failed)
	}
	got := p.client(t, email).read("INBOX")
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for _, m := range got {
		if !slices.Contains(want, string(m.body)) {
			t.Errorf("unexpected message uid %d (%d bytes)", m.uid, len(m.body))
		}
	}
}

// An unknown policy and a user without email are refused up front.
func TestRestoreArgumentsDemo(t *testing.T) {
	src := New(Config{Addr: "127.0.0.1:1", Security: SecurityPlain})
	tests := []struct {
		name string
		u    sources.User
		t    sources.RestoreTarget
		want string
	}{
		{"policy", userFor("a@example.org"), sources.RestoreTarget{Original: "INBOX", Policy: "merge"}, `unknown collision policy "merge"`},
		{"email", sources.User{ID: "42"}, sources.RestoreTarget{Original: "INBOX"}, "user 42 has no email address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := src.RestoreContainer(context.Background(), tt.u, tokensFor("a@example.org"), tt.t,
				[]sources.RestoreItem{{Item: sources.Item{ID: "1/1"}}}, func(string, error) {})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// Restore over implicit TLS (Yandex's port 993) and STARTTLS.
func TestRestoreTLSDemo(t *testing.T) {
	for _, opts := range []*imapdemo.Options{{TLS: true}, {StartTLS: true}} {
		t.Run(fmt.Sprintf("tls=%v", opts.TLS), func(t *testing.T) {
			srv := startDemo(t, opts)
			src := demoSource(srv)
			if opts.StartTLS {
				src.cfg.Security, src.cfg.TLSConfig = SecurityStartTLS, srv.ClientTLSConfig()
			}
			p := &restorePeer{name: "demo-tls", src: src, demo: srv, token: func(e string) string { return "tok-" + e }}
			p.newRepo(t)
			email := uniq("tls") + "@example.org"
			for i := 0; i < 3; i++ {
				mustAppend(t, srv, email, "Отправленные", message(fmt.Sprintf("%s-%d", email, i), "tls", "x"), baseDate, imap.FlagSeen)
			}
			snap := p.backup(t, email)
			if err := srv.DeleteFolder(email, "Отправленные"); err != nil {
				t.Fatal(err)
			}
			ro := p.opts(snap)
			ro.InPlace = true
			if rep := p.restore(t, ro); rep.Written != 3 {
				t.Fatalf("wrote %d", rep.Written)
			}
			if n, err := srv.MessageCount(email, "Отправленные"); n != 3 || err != nil {
				t.Fatalf("%d messages in the recreated folder, %v", n, err)
			}
		})
	}
}

// Replace on many messages sets their flags back with a few STOREs of at
// most maxSetUIDs UIDs each.
func TestRestoreReplaceManyDemo(t *testing.T) {
	p := demoPeer(t, nil)
	email := uniq("many") + "@example.org"
	const n = 2*maxSetUIDs + 37
	var uids []imap.UID
	for i := 0; i < n; i++ {
		uids = append(uids, mustAppend(t, p.demo, email, "INBOX", message(fmt.Sprintf("%s-%d", email, i), "m", "x"), baseDate, imap.FlagSeen))
	}
	snap := p.backup(t, email)
	for _, uid := range uids[1:] { // all but the first changed
		if err := p.demo.SetFlags(email, "INBOX", uid, imap.FlagFlagged); err != nil {
			t.Fatal(err)
		}
	}
	var stores atomic.Int64
	p.src.wrapConn = func(c net.Conn) net.Conn {
		return &watchedConn{Conn: c, w: &appendWatch{}, onWrite: func(b []byte) { stores.Add(int64(bytes.Count(b, []byte(" UID STORE ")))) }}
	}
	opts := p.opts(snap)
	opts.InPlace, opts.Policy = true, sources.PolicyReplace
	if rep := p.restore(t, opts); rep.Written != n-1 {
		t.Fatalf("replace wrote %d, want %d", rep.Written, n-1)
	}
	if s := stores.Load(); s != 3 {
		t.Errorf("%d STORE commands, want 3", s)
	}
	for _, m := range p.client(t, email).read("INBOX") {
		if strings.Join(m.flags, " ") != `\Seen` {
			t.Fatalf("uid %d has flags %v after replace", m.uid, m.flags)
		}
	}
}
