package mail

import (
	"bytes"
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

var baseDate = time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("MSK", 3*3600))

// seeded is what a test put into the demo server, to compare with the store.
type seeded struct {
	body  []byte
	flags []string
	date  time.Time
}

func seed(t *testing.T, srv *imapdemo.Server, email, folder string, n int, prefix string) map[imap.UID]seeded {
	t.Helper()
	out := map[imap.UID]seeded{}
	for i := 0; i < n; i++ {
		body := message(fmt.Sprintf("%s-%s-%d", prefix, strings.ReplaceAll(folder, "|", "."), i), "Тема "+prefix, strings.Repeat("строка текста ", i+1))
		var flags []imap.Flag
		if i%2 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%5 == 0 {
			flags = append(flags, imap.FlagFlagged, "$Forwarded")
		}
		date := baseDate.Add(time.Duration(i) * time.Hour)
		uid := mustAppend(t, srv, email, folder, body, date, flags...)
		out[uid] = seeded{body: body, flags: canonicalFlags(flags), date: date}
	}
	return out
}

// checkFolder asserts the committed container equals want exactly.
func checkFolder(t *testing.T, st *sourcetest.MemStore, folder string, want map[imap.UID]seeded) {
	t.Helper()
	items := st.Items(folder)
	if len(items) != len(want) {
		t.Fatalf("%s: %d items, want %d", folder, len(items), len(want))
	}
	for id, it := range items {
		_, uid, _ := parseItemID(id)
		w, ok := want[uid]
		if !ok {
			t.Fatalf("%s: unexpected item %s", folder, id)
		}
		m, _ := decodeMeta(it.Meta)
		if !equalFlags(m.Flags, w.flags) {
			t.Errorf("%s uid %d: flags %v, want %v", folder, uid, m.Flags, w.flags)
		}
		if m.Date != w.date.Format(time.RFC3339) {
			t.Errorf("%s uid %d: date %s, want %s", folder, uid, m.Date, w.date.Format(time.RFC3339))
		}
		if m.Size != int64(len(w.body)) || it.Size != int64(len(w.body)) {
			t.Errorf("%s uid %d: size meta %d item %d, want %d", folder, uid, m.Size, it.Size, len(w.body))
		}
		if !strings.HasSuffix(m.MessageID, "@example.org") {
			t.Errorf("%s uid %d: message_id %q", folder, uid, m.MessageID)
		}
		body, ok := st.Body(it.Hash)
		if !ok || !bytes.Equal(body, w.body) {
			t.Errorf("%s uid %d: stored body differs from the appended message", folder, uid)
		}
	}
}

func TestFullThenIncrementalDemo(t *testing.T) {
	srv := startDemo(t, nil)
	email := "full@example.org"
	if err := srv.CreateFolder(email, "Проекты"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateFolder(email, "Архив|2024"); err != nil { // parent "Архив" is \Noselect
		t.Fatal(err)
	}
	want := map[string]map[imap.UID]seeded{
		"INBOX":        seed(t, srv, email, "INBOX", 12, "a"),
		"Проекты":      seed(t, srv, email, "Проекты", 5, "a"),
		"Архив|2024":   seed(t, srv, email, "Архив|2024", 3, "a"),
		"Отправленные": seed(t, srv, email, "Отправленные", 2, "a"),
	}
	st := sourcetest.New()
	st.DueEvery = 4
	src := New(Config{Addr: srv.Addr(), Security: SecurityPlain, BatchSize: 5, Timeout: 10 * time.Second})
	backup(t, src, email, st)

	wantContainers := []string{"INBOX", "Исходящие", "Архив|2024", "Отправленные", "Проекты", "Спам", "Удаленные", "Черновики"}
	slices.Sort(wantContainers)
	if got := st.Containers(); !slices.Equal(got, wantContainers) {
		t.Fatalf("containers = %q, want %q", got, wantContainers)
	}
	for folder, w := range want {
		checkFolder(t, st, folder, w)
	}
	if st.BodyPuts != 22 {
		t.Fatalf("full run: %d PutBody calls, want 22", st.BodyPuts)
	}
	cur, _ := decodeCursor(st.CommittedCursor("INBOX"))
	uv, _ := srv.UIDValidity(email, "INBOX")
	if cur.UIDValidity != uv || cur.LastUID != 12 || len(cur.Failed) != 0 || cur.HighestModSeq != 0 {
		t.Fatalf("INBOX cursor = %+v (uidvalidity %d)", cur, uv)
	}

	// Changes: flags, deletions, new mail, a vanished folder.
	inbox := want["INBOX"]
	if err := srv.SetFlags(email, "INBOX", 2, imap.FlagSeen, imap.FlagAnswered); err != nil {
		t.Fatal(err)
	}
	inbox[2] = seeded{body: inbox[2].body, flags: []string{`\Answered`, `\Seen`}, date: inbox[2].date}
	if err := srv.SetFlags(email, "INBOX", 5); err != nil { // all flags removed
		t.Fatal(err)
	}
	inbox[5] = seeded{body: inbox[5].body, flags: []string{}, date: inbox[5].date}
	if err := srv.Expunge(email, "INBOX", 3, 12); err != nil { // 12 is the highest UID: "*" trap
		t.Fatal(err)
	}
	delete(inbox, 3)
	delete(inbox, 12)
	for uid, s := range seed(t, srv, email, "INBOX", 3, "b") {
		inbox[uid] = s
	}
	if err := srv.DeleteFolder(email, "Проекты"); err != nil {
		t.Fatal(err)
	}
	puts := st.BodyPuts
	backup(t, src, email, st)
	checkFolder(t, st, "INBOX", inbox)
	if got := st.BodyPuts - puts; got != 3 {
		t.Fatalf("incremental run: %d PutBody calls, want 3 (only new mail)", got)
	}
	if slices.Contains(st.Containers(), "Проекты") {
		t.Fatal("deleted folder still a live container")
	}
	checkFolder(t, st, "Архив|2024", want["Архив|2024"])

	// Nothing changed: no downloads and no commits.
	puts, commits := st.BodyPuts, st.Commits
	fetchesBefore := srv.Stats().BodyFetches
	backup(t, src, email, st)
	if st.BodyPuts != puts || st.Commits != commits || srv.Stats().BodyFetches != fetchesBefore {
		t.Fatalf("no-change run: PutBody +%d, commits +%d, body FETCHes +%d; want 0",
			st.BodyPuts-puts, st.Commits-commits, srv.Stats().BodyFetches-fetchesBefore)
	}
	checkFolder(t, st, "INBOX", inbox)
}

func TestExcludeFoldersDemo(t *testing.T) {
	srv := startDemo(t, nil)
	email := "filter@example.org"
	seed(t, srv, email, "Спам", 2, "s")
	seed(t, srv, email, "INBOX", 1, "i")
	st := sourcetest.New()
	src := New(Config{Addr: srv.Addr(), Security: SecurityPlain, ExcludeFolders: []string{`\Junk`, `\Trash`, "Исх*"}})
	backup(t, src, email, st)
	got := st.Containers()
	for _, bad := range []string{"Спам", "Удаленные", "Исходящие"} {
		if slices.Contains(got, bad) {
			t.Errorf("excluded folder %q backed up", bad)
		}
	}
	if !slices.Contains(got, "INBOX") || len(st.Items("INBOX")) != 1 {
		t.Fatalf("INBOX missing: %v", got)
	}
	if len(st.Skips) != 3 || !strings.Contains(strings.Join(st.Skips, ";"), "Спам: excluded") {
		t.Fatalf("skips = %q", st.Skips)
	}
}

func TestUIDValidityChangeDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	email := "uidv@example.org"
	if err := srv.CreateFolder(email, "Work"); err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for i := 0; i < 8; i++ {
		msgs = append(msgs, message(fmt.Sprintf("w%d", i), "s", strings.Repeat("x", 100+i)))
	}
	noID := []byte("From: a@example.org\r\nSubject: no id\r\n\r\nbody\r\n")
	for i, m := range msgs {
		mustAppend(t, srv, email, "Work", m, baseDate.Add(time.Duration(i)*time.Minute), imap.FlagSeen)
	}
	mustAppend(t, srv, email, "Work", noID, baseDate)
	st := sourcetest.New()
	src := demoSource(srv)
	backup(t, src, email, st)
	old := st.Items("Work")
	if len(old) != 9 {
		t.Fatalf("first run: %d items", len(old))
	}
	oldUV, _ := srv.UIDValidity(email, "Work")

	// The server re-creates the folder: same messages, new UIDVALIDITY, and
	// this time in reverse order with other flags; plus one new message.
	if err := srv.DeleteFolder(email, "Work"); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateFolder(email, "Work"); err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		mustAppend(t, srv, email, "Work", msgs[i], baseDate.Add(time.Duration(i)*time.Minute), imap.FlagFlagged)
	}
	mustAppend(t, srv, email, "Work", noID, baseDate)
	fresh := message("new", "s", "new one")
	mustAppend(t, srv, email, "Work", fresh, baseDate)
	newUV, _ := srv.UIDValidity(email, "Work")
	if newUV == oldUV {
		t.Fatal("test setup: UIDVALIDITY did not change")
	}

	puts := st.BodyPuts
	backup(t, src, email, st)
	if got := st.BodyPuts - puts; got != 2 { // the message without Message-Id and the new one
		t.Fatalf("after UIDVALIDITY change: %d downloads, want 2", got)
	}
	items := st.Items("Work")
	if len(items) != 10 {
		t.Fatalf("%d items after change, want 10", len(items))
	}
	oldHashes := map[string]bool{}
	for _, it := range old {
		oldHashes[it.Hash] = true
	}
	reused := 0
	for id, it := range items {
		v, _, _ := parseItemID(id)
		if v != newUV {
			t.Fatalf("item %s has the old UIDVALIDITY", id)
		}
		m, _ := decodeMeta(it.Meta)
		if !slices.Equal(m.Flags, []string{`\Flagged`}) && m.MessageID != "" && m.MessageID != "new@example.org" {
			t.Errorf("item %s: flags %v not refreshed", id, m.Flags)
		}
		if oldHashes[it.Hash] {
			reused++
		}
		body, _ := st.Body(it.Hash)
		if int64(len(body)) != m.Size {
			t.Errorf("item %s: body %d bytes, meta size %d", id, len(body), m.Size)
		}
	}
	if reused != 9 {
		t.Fatalf("%d items reuse an old body, want 9", reused)
	}
	cur, _ := decodeCursor(st.CommittedCursor("Work"))
	if cur.UIDValidity != newUV || cur.LastUID != 10 {
		t.Fatalf("cursor %+v", cur)
	}
}

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

// recordingConn records every Write on the raw connection.
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

func TestTLSAndStartTLSDemo(t *testing.T) {
	for _, mode := range []string{SecurityTLS, SecurityStartTLS} {
		t.Run(mode, func(t *testing.T) {
			srv := startDemo(t, &imapdemo.Options{TLS: mode == SecurityTLS, StartTLS: mode == SecurityStartTLS})
			email := "tls@example.org"
			want := seed(t, srv, email, "INBOX", 3, "t")
			st := sourcetest.New()
			src := New(Config{Addr: srv.Addr(), Security: mode, TLSConfig: srv.ClientTLSConfig()})
			backup(t, src, email, st)
			checkFolder(t, st, "INBOX", want)

			// Without trusting the certificate the connection is refused.
			err := New(Config{Addr: srv.Addr(), Security: mode}).Backup(context.Background(), testUser(email), tokensFor(email), sourcetest.New())
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("untrusted certificate: error = %v", err)
			}
		})
	}
}

func TestMalformedMessageVerbatimDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	email := "broken@example.org"
	broken := []byte("From: a@example.org\r\nSubject: =?utf-8?B?!!!broken?=\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n" +
		"Message-Id: <broken@example.org>\r\n\r\n--XYZ\r\nContent-Transfer-Encoding: base64\r\n\r\n###not base64###\r\n" +
		"\xff\xfe\x00 binary junk, no closing boundary\n\rbare CR, bare LF\n")
	mustAppend(t, srv, email, "INBOX", broken, baseDate)
	st := sourcetest.New()
	backup(t, demoSource(srv), email, st)
	for _, it := range st.Items("INBOX") {
		body, _ := st.Body(it.Hash)
		if !bytes.Equal(body, broken) {
			t.Fatalf("stored %q\nwant   %q", body, broken)
		}
		return
	}
	t.Fatal("malformed message not stored")
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

// failingStore fails PutBody after reading part of the body, like a sink
// that goes away in the middle of an upload.
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

// commitFailStore fails the second commit.
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
