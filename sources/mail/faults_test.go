package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestSelectRefusedDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{
		OnSelect: func(email, mailbox string) error {
			if mailbox == "Проекты" {
				return errors.New("mailbox is locked")
			}
			return nil
		},
	})
	email := "sel@example.org"
	srv.CreateFolder(email, "Проекты")
	seed(t, srv, email, "Проекты", 1, "p")
	seed(t, srv, email, "INBOX", 2, "i")
	st := sourcetest.New()
	backup(t, demoSource(srv), email, st)
	if len(st.Failures) != 1 || !strings.Contains(st.Failures[0], "Проекты") || !strings.Contains(st.Failures[0], "mailbox is locked") {
		t.Fatalf("failures = %q", st.Failures)
	}
	if len(st.Items("INBOX")) != 2 {
		t.Fatal("other folders not backed up after one failed")
	}
}

func TestReconnectMidFolderDemo(t *testing.T) {
	var bodyFetches atomic.Int32
	srv := startDemo(t, &imapdemo.Options{
		OnFetch: func(email, mailbox string, set imap.NumSet, o *imap.FetchOptions) error {
			if len(o.BodySection) > 0 && mailbox == "INBOX" {
				if n := bodyFetches.Add(1); n == 3 || n == 6 {
					return imapdemo.ErrDrop
				}
			}
			return nil
		},
	})
	email := "drop@example.org"
	want := seed(t, srv, email, "INBOX", 40, "d")
	st := sourcetest.New()
	st.DueEvery = 7
	src := New(Config{Addr: srv.Addr(), Security: SecurityPlain, BatchSize: 5, Timeout: 10 * time.Second})
	backup(t, src, email, st)
	checkFolder(t, st, "INBOX", want)
	if got := srv.Stats().Logins; got != 3 {
		t.Fatalf("%d logins, want 3 (two reconnects)", got)
	}
	if len(st.Failures) != 0 {
		t.Fatalf("failures: %q", st.Failures)
	}
	if st.BodyPuts > 40+2*2*5 { // at most the two in-flight batches per drop again
		t.Fatalf("%d PutBody calls for 40 messages", st.BodyPuts)
	}
}

func TestTooManyDropsFailsFolderDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{
		OnFetch: func(email, mailbox string, set imap.NumSet, o *imap.FetchOptions) error {
			if len(o.BodySection) > 0 && mailbox == "INBOX" {
				return imapdemo.ErrDrop
			}
			return nil
		},
	})
	email := "drops@example.org"
	seed(t, srv, email, "INBOX", 3, "d")
	seed(t, srv, email, "Отправленные", 2, "s")
	st := sourcetest.New()
	backup(t, demoSource(srv), email, st)
	if len(st.Failures) != 1 || !strings.HasPrefix(st.Failures[0], "INBOX:") || !strings.Contains(st.Failures[0], "connection") {
		t.Fatalf("failures = %q", st.Failures)
	}
	if len(st.Items("Отправленные")) != 2 {
		t.Fatal("the next folder was not backed up on a new connection")
	}
	if got := srv.Stats().Logins; got != 4 { // first + 2 reconnects + one for the next folder
		t.Fatalf("%d logins, want 4", got)
	}
}

func TestResumeAfterCrashDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	email := "crash@example.org"
	want := seed(t, srv, email, "INBOX", 50, "c")
	mem := sourcetest.New()
	mem.DueEvery = 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &countingStore{MemStore: mem, onCommit: func(n int) {
		if n == 2 {
			cancel() // "kill -9" right after the second commit
		}
	}}
	src := New(Config{Addr: srv.Addr(), Security: SecurityPlain, BatchSize: 7, Timeout: 10 * time.Second})
	err := src.Backup(ctx, testUser(email), tokensFor(email), st)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run error = %v, want context.Canceled", err)
	}
	committed := len(mem.Items("INBOX"))
	cur, _ := decodeCursor(mem.CommittedCursor("INBOX"))
	if committed == 0 || committed >= 50 || int(cur.LastUID) != committed {
		t.Fatalf("after crash: %d committed items, cursor %+v", committed, cur)
	}

	// The reopened store only has what was committed; the next run downloads
	// exactly the rest.
	puts := mem.BodyPuts
	backup(t, src, email, mem)
	if got := mem.BodyPuts - puts; got != 50-committed {
		t.Fatalf("resumed run downloaded %d messages, want %d", got, 50-committed)
	}
	checkFolder(t, mem, "INBOX", want)
}

func TestFailedUIDRetriedDemo(t *testing.T) {
	var brokenUID atomic.Uint32
	brokenUID.Store(3)
	srv := startDemo(t, &imapdemo.Options{
		DefaultFolders: []imapdemo.Folder{},
		OnFetch: func(email, mailbox string, set imap.NumSet, o *imap.FetchOptions) error {
			if uids, ok := set.(imap.UIDSet); ok && len(o.BodySection) > 0 && uids.Contains(imap.UID(brokenUID.Load())) {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Message 3 is unavailable"}
			}
			return nil
		},
	})
	email := "retry@example.org"
	want := seed(t, srv, email, "INBOX", 9, "r")
	st := sourcetest.New()
	src := New(Config{Addr: srv.Addr(), Security: SecurityPlain, BatchSize: 4, Timeout: 10 * time.Second})
	backup(t, src, email, st)
	if len(st.Failures) != 1 || !strings.HasPrefix(st.Failures[0], "INBOX uid 3: ") || !strings.Contains(st.Failures[0], "unavailable") {
		t.Fatalf("failures = %q", st.Failures)
	}
	cur, _ := decodeCursor(st.CommittedCursor("INBOX"))
	if cur.LastUID != 9 || !slices.Equal(cur.Failed, []uint32{3}) {
		t.Fatalf("cursor = %+v, want last_uid 9 failed [3]", cur)
	}
	if n := len(st.Items("INBOX")); n != 8 {
		t.Fatalf("%d items, want 8", n)
	}

	// Still broken: reported again, nothing else fetched.
	puts := st.BodyPuts
	backup(t, src, email, st)
	if len(st.Failures) != 2 || st.BodyPuts != puts {
		t.Fatalf("second run: failures %q, PutBody +%d", st.Failures, st.BodyPuts-puts)
	}

	brokenUID.Store(0)
	backup(t, src, email, st)
	checkFolder(t, st, "INBOX", want)
	cur, _ = decodeCursor(st.CommittedCursor("INBOX"))
	if len(cur.Failed) != 0 || st.BodyPuts != puts+1 {
		t.Fatalf("after repair: cursor %+v, PutBody +%d (want 1)", cur, st.BodyPuts-puts)
	}

	// A failed UID that is then deleted at the server is dropped silently.
	brokenUID.Store(10)
	mustAppend(t, srv, email, "INBOX", message("late", "s", "b"), baseDate)
	backup(t, src, email, st)
	if cur, _ = decodeCursor(st.CommittedCursor("INBOX")); !slices.Equal(cur.Failed, []uint32{10}) || len(st.Failures) != 3 {
		t.Fatalf("cursor %+v, failures %q", cur, st.Failures)
	}
	if err := srv.Expunge(email, "INBOX", 10); err != nil {
		t.Fatal(err)
	}
	backup(t, src, email, st)
	if cur, _ = decodeCursor(st.CommittedCursor("INBOX")); len(cur.Failed) != 0 || cur.LastUID != 10 || len(st.Failures) != 3 {
		t.Fatalf("after expunge: cursor %+v, failures %q", cur, st.Failures)
	}
	checkFolder(t, st, "INBOX", want)
}

func TestTokenRefusedOnceThenOKDemo(t *testing.T) {
	srv := startDemo(t, nil)
	email := "once@example.org"
	seed(t, srv, email, "INBOX", 1, "o")
	tok := &sourcetest.StaticTokens{Tok: "expired-token", Next: func() string { return "tok-" + email }}
	st := sourcetest.New()
	if err := demoSource(srv).Backup(context.Background(), testUser(email), tok, st); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if tok.Invalidated != 1 {
		t.Fatalf("Invalidate called %d times, want 1", tok.Invalidated)
	}
	if len(st.Items("INBOX")) != 1 || srv.Stats().AuthFailures != 1 {
		t.Fatalf("items %d, auth failures %d", len(st.Items("INBOX")), srv.Stats().AuthFailures)
	}
}

func TestWrongTokenDemo(t *testing.T) {
	srv := startDemo(t, nil)
	email := "wrong@example.org"
	n := 0
	tok := &sourcetest.StaticTokens{Tok: "SECRET-token-0", Next: func() string { n++; return fmt.Sprintf("SECRET-token-%d", n) }}
	err := demoSource(srv).Backup(context.Background(), testUser(email), tok, sourcetest.New())
	if !errors.Is(err, sources.ErrUnauthorized) {
		t.Fatalf("error = %v, want ErrUnauthorized", err)
	}
	msg := err.Error()
	for _, want := range []string{"wrong@example.org", "refused the OAuth token", "mail:imap_ro", "IMAP access", "AUTHENTICATIONFAILED"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "SECRET") {
		t.Fatalf("error leaks a token: %q", msg)
	}
	if tok.Invalidated != 2 {
		t.Fatalf("Invalidate called %d times, want 2", tok.Invalidated)
	}
}

type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, string(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func TestSASLIRSingleWriteDemo(t *testing.T) {
	srv := startDemo(t, nil) // imapserver advertises SASL-IR
	email := "ir@example.org"
	src := demoSource(srv)
	var rc *recordingConn
	src.wrapConn = func(c net.Conn) net.Conn { rc = &recordingConn{Conn: c}; return rc }
	backup(t, src, email, sourcetest.New())
	var auth []string
	for _, w := range rc.writes {
		if strings.Contains(w, "AUTHENTICATE") {
			auth = append(auth, w)
		}
	}
	want := "L1 AUTHENTICATE XOAUTH2 " + encodeSASL([]byte("user="+email+"\x01auth=Bearer tok-"+email+"\x01\x01")) + "\r\n"
	if len(auth) != 1 || auth[0] != want {
		t.Fatalf("AUTHENTICATE writes = %q, want exactly one %q", auth, want)
	}
	for _, w := range rc.writes {
		if strings.Contains(w, "\r\n") && !strings.HasSuffix(w, "\r\n") {
			t.Errorf("a write carries more than one line or a partial line: %q", w)
		}
	}
}

func TestContextCancelDemo(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := startDemo(t, &imapdemo.Options{
		OnFetch: func(string, string, imap.NumSet, *imap.FetchOptions) error {
			<-release // a server that hangs
			return nil
		},
	})
	email := "cancel@example.org"
	seed(t, srv, email, "INBOX", 2, "x")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := demoSource(srv).Backup(ctx, testUser(email), tokensFor(email), sourcetest.New())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Backup returned %v after the deadline", d)
	}
}

func TestCommandTimeoutDemo(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := startDemo(t, &imapdemo.Options{
		OnFetch: func(email, mailbox string, _ imap.NumSet, o *imap.FetchOptions) error {
			if mailbox == "INBOX" && len(o.BodySection) > 0 {
				<-release
			}
			return nil
		},
	})
	email := "slow@example.org"
	seed(t, srv, email, "INBOX", 2, "x")
	seed(t, srv, email, "Черновики", 1, "y")
	st := sourcetest.New()
	src := New(Config{Addr: srv.Addr(), Security: SecurityPlain, Timeout: time.Second})
	start := time.Now()
	backup(t, src, email, st)
	if len(st.Failures) != 1 || !strings.Contains(st.Failures[0], "timeout") {
		t.Fatalf("failures = %q", st.Failures)
	}
	if len(st.Items("Черновики")) != 1 {
		t.Fatal("folder after the hung one not backed up")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

type failingStore struct{ *sourcetest.MemStore }

func (s failingStore) Open(ctx context.Context, name string) (sources.Container, error) {
	c, err := s.MemStore.Open(ctx, name)
	return failingContainer{c}, err
}

type failingContainer struct{ sources.Container }

var errSinkGone = errors.New("sink went away")

func (c failingContainer) PutBody(ctx context.Context, r io.Reader) (sources.Body, error) {
	if _, err := io.CopyN(io.Discard, r, 1000); err != nil {
		return sources.Body{}, err
	}
	return sources.Body{}, errSinkGone
}

func TestStoreFailureMidMessageDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	email := "sink@example.org"
	for i := 0; i < 5; i++ {
		mustAppend(t, srv, email, "INBOX", message(fmt.Sprint(i), "big", strings.Repeat("x", 200<<10)), baseDate)
	}
	done := make(chan error, 1)
	go func() {
		done <- demoSource(srv).Backup(context.Background(), testUser(email), tokensFor(email), failingStore{sourcetest.New()})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errSinkGone) || !strings.Contains(err.Error(), "store") {
			t.Fatalf("error = %v, want the store's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Backup hung after a store failure")
	}
}

func TestCommitFailureDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	email := "commit@example.org"
	seed(t, srv, email, "INBOX", 300, "c")
	errCommit := errors.New("index write refused")
	for _, phase := range []string{"new mail", "flag pass"} {
		t.Run(phase, func(t *testing.T) {
			mem := sourcetest.New()
			if phase == "flag pass" {
				backup(t, demoSource(srv), email, mem) // so the next run starts with the flag pass
				for uid := imap.UID(1); uid <= 300; uid++ {
					srv.SetFlags(email, "INBOX", uid, imap.FlagAnswered)
				}
			}
			mem.DueEvery = 3
			st := &countingStore{MemStore: mem}
			failing := &commitFailStore{countingStore: st, err: errCommit}
			done := make(chan error, 1)
			go func() {
				done <- New(Config{Addr: srv.Addr(), Security: SecurityPlain, BatchSize: 50}).Backup(context.Background(), testUser(email), tokensFor(email), failing)
			}()
			select {
			case err := <-done:
				if !errors.Is(err, errCommit) {
					t.Fatalf("error = %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Backup hung after a commit failure")
			}
		})
	}
}

type commitFailStore struct {
	*countingStore
	err error
}

func (s *commitFailStore) Open(ctx context.Context, name string) (sources.Container, error) {
	c, err := s.MemStore.Open(ctx, name)
	return &commitFailContainer{Container: c, s: s}, err
}

type commitFailContainer struct {
	sources.Container
	s *commitFailStore
}

func (c *commitFailContainer) Commit(ctx context.Context, cursor any) error {
	c.s.mu.Lock()
	c.s.commits++
	n := c.s.commits
	c.s.mu.Unlock()
	if n >= 2 {
		return c.s.err
	}
	return c.Container.Commit(ctx, cursor)
}
