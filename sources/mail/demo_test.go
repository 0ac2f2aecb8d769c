package mail

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/internal/imapdemo"
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

// recordingConn records every Write on the raw connection.
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

// failingStore fails PutBody after reading part of the body, like a sink
// that goes away in the middle of an upload.
// commitFailStore fails the second commit.

func TestEmptiedFolderDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	email := "empty@example.org"
	seeded := seed(t, srv, email, "INBOX", 4, "e")
	st := sourcetest.New()
	src := demoSource(srv)
	backup(t, src, email, st)
	var uids []imap.UID
	for uid := range seeded {
		uids = append(uids, uid)
	}
	if err := srv.Expunge(email, "INBOX", uids...); err != nil {
		t.Fatal(err)
	}
	fetches := srv.Stats().Fetches
	backup(t, src, email, st)
	if n := len(st.Items("INBOX")); n != 0 {
		t.Fatalf("%d items left in an emptied folder", n)
	}
	if got := srv.Stats().Fetches - fetches; got != 0 {
		t.Fatalf("%d FETCH commands on an empty folder", got)
	}
	cur, _ := decodeCursor(st.CommittedCursor("INBOX"))
	if cur.LastUID != 4 {
		t.Fatalf("cursor %+v: the watermark must not go back", cur)
	}
}

func TestSampleMailboxDemo(t *testing.T) {
	srv := startDemo(t, &imapdemo.Options{TLS: true})
	email := "sample@demo.y360.test"
	if err := srv.SeedSample(email, 25, 1); err != nil {
		t.Fatal(err)
	}
	st := sourcetest.New()
	backup(t, demoSource(srv), email, st)
	for _, folder := range []string{"INBOX", "Отправленные", "Проекты", "Архив|2024"} {
		items := st.Items(folder)
		if len(items) != 25 {
			t.Fatalf("%s: %d items, want 25", folder, len(items))
		}
		for id, it := range items {
			m, _ := decodeMeta(it.Meta)
			body, _ := st.Body(it.Hash)
			if int64(len(body)) != m.Size || !strings.HasSuffix(m.MessageID, "@demo.y360.test") {
				t.Fatalf("%s %s: meta %+v, body %d bytes", folder, id, m, len(body))
			}
		}
	}
}
