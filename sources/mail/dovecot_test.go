package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/y360backup/y360backup/internal/testpeer"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// Tests against real Dovecot servers started by scripts/peers-up.sh:
// Y360_TEST_DOVECOT_ADDR advertises Dovecot's own capabilities (CONDSTORE,
// QRESYNC, SASL-IR...), Y360_TEST_DOVECOT_YANDEX_ADDR exactly Yandex's list
// (no SASL-IR, no CONDSTORE). The same test body runs against both.

// dovecotToken returns a token Dovecot accepts for email. In CI Dovecot
// introspects tokens at the standalone emulator, which shares
// Y360_TEST_EMU_KEY with the in-process one; without the key (a Dovecot from
// shared/bench) the introspection rule is "valid-<email>".
func dovecotToken(email string) string {
	if os.Getenv(y360emu.EnvKey) != "" {
		return y360emu.New(y360emu.DefaultOrg()).MintToken(email)
	}
	return "valid-" + email
}

func peerEnv(t *testing.T, name string) string { t.Helper(); return testpeer.Env(t, name) }

// dovecotTLS trusts Y360_TEST_DOVECOT_CA when set; otherwise it skips
// verification (the certificates are self-signed test certificates).
func dovecotTLS(t *testing.T) *tls.Config {
	t.Helper()
	ca := os.Getenv("Y360_TEST_DOVECOT_CA")
	if ca == "" {
		return &tls.Config{InsecureSkipVerify: true}
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", ca)
	}
	return &tls.Config{RootCAs: pool}
}

// imapSeeder changes a Dovecot mailbox over IMAP, as a mail client would.
type imapSeeder struct {
	t     *testing.T
	c     *imapclient.Client
	delim string
}

func newSeeder(t *testing.T, addr, email string) *imapSeeder {
	t.Helper()
	return dialSeeder(t, addr, email, dovecotToken(email))
}

func (s *imapSeeder) create(name string) {
	s.t.Helper()
	if err := s.c.Create(name, nil).Wait(); err != nil {
		s.t.Fatalf("CREATE %s: %v", name, err)
	}
}

func (s *imapSeeder) delete(name string) {
	s.t.Helper()
	if err := s.c.Delete(name).Wait(); err != nil {
		s.t.Fatalf("DELETE %s: %v", name, err)
	}
}

func (s *imapSeeder) append(folder string, msg []byte, date time.Time, flags ...imap.Flag) imap.UID {
	s.t.Helper()
	cmd := s.c.Append(folder, int64(len(msg)), &imap.AppendOptions{Flags: flags, Time: date})
	cmd.Write(msg)
	cmd.Close()
	data, err := cmd.Wait()
	if err != nil {
		s.t.Fatalf("APPEND to %s: %v", folder, err)
	}
	return data.UID
}

func (s *imapSeeder) store(folder string, uid imap.UID, op imap.StoreFlagsOp, flags ...imap.Flag) {
	s.t.Helper()
	if _, err := s.c.Select(folder, nil).Wait(); err != nil {
		s.t.Fatal(err)
	}
	if err := s.c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
		s.t.Fatalf("STORE: %v", err)
	}
}

func (s *imapSeeder) expunge(folder string, uids ...imap.UID) {
	s.t.Helper()
	for _, uid := range uids {
		s.store(folder, uid, imap.StoreFlagsAdd, imap.FlagDeleted)
	}
	if err := s.c.Expunge().Close(); err != nil {
		s.t.Fatalf("EXPUNGE: %v", err)
	}
}

func (s *imapSeeder) seed(folder string, n int, prefix string) map[imap.UID]seeded {
	s.t.Helper()
	out := map[imap.UID]seeded{}
	for i := 0; i < n; i++ {
		body := message(fmt.Sprintf("%s-%d-%d", prefix, i, time.Now().UnixNano()), "Тема "+prefix, strings.Repeat("строка текста ", 3*i+1))
		var flags []imap.Flag
		if i%2 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%5 == 0 {
			flags = append(flags, imap.FlagFlagged, "$Forwarded")
		}
		date := baseDate.Add(time.Duration(i) * time.Hour)
		uid := s.append(folder, body, date, flags...)
		out[uid] = seeded{body: body, flags: canonicalFlags(flags), date: date}
	}
	return out
}

// checkDovecotFolder is checkFolder with dates compared as instants (Dovecot
// may report INTERNALDATE in another zone) and Message-Id optional.
func checkDovecotFolder(t *testing.T, st *sourcetest.MemStore, folder string, want map[imap.UID]seeded) {
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
		if d, err := time.Parse(time.RFC3339, m.Date); err != nil || !d.Equal(w.date) {
			t.Errorf("%s uid %d: date %s, want %s", folder, uid, m.Date, w.date)
		}
		body, ok := st.Body(it.Hash)
		if !ok || !bytes.Equal(body, w.body) || m.Size != int64(len(w.body)) {
			t.Errorf("%s uid %d: stored body (%d bytes, meta size %d) differs from the appended one (%d bytes)", folder, uid, len(body), m.Size, len(w.body))
		}
	}
}

type dovecotPeer struct {
	name     string
	addr     string
	security string
}

func TestDovecot(t *testing.T) {
	peers := []struct{ name, env, security string }{
		{"dovecot", "Y360_TEST_DOVECOT_ADDR", SecurityStartTLS},
		{"dovecot-yandex-caps", "Y360_TEST_DOVECOT_YANDEX_ADDR", SecurityPlain},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			dovecotSuite(t, dovecotPeer{name: p.name, addr: peerEnv(t, p.env), security: p.security})
		})
	}
}

func dovecotSuite(t *testing.T, p dovecotPeer) {
	email := fmt.Sprintf("mailsrc-%d-%s@example.org", time.Now().UnixNano(), p.name)
	sd := newSeeder(t, p.addr, email)
	archive := "Archive" + sd.delim + "2025"
	sd.create("Проекты")
	sd.create(archive)
	want := map[string]map[imap.UID]seeded{
		"INBOX":   sd.seed("INBOX", 20, "a"),
		"Проекты": sd.seed("Проекты", 5, "p"),
		archive:   sd.seed(archive, 3, "r"),
	}
	// Broken MIME is stored verbatim.
	broken := []byte("From: a@example.org\r\nMessage-Id: <broken-" + email + ">\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Transfer-Encoding: base64\r\n\r\n###not base64###\r\n\xff\xfe junk, no closing boundary\r\n")
	uid := sd.append("INBOX", broken, baseDate, imap.FlagSeen)
	want["INBOX"][uid] = seeded{body: broken, flags: []string{`\Seen`}, date: baseDate}

	cfg := Config{Addr: p.addr, Security: p.security, TLSConfig: dovecotTLS(t), BatchSize: 4, Timeout: 30 * time.Second}
	src := New(cfg)
	st := sourcetest.New()
	st.DueEvery = 5
	run := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tok := &sourcetest.StaticTokens{Tok: dovecotToken(email)}
		if err := src.Backup(ctx, testUser(email), tok, st); err != nil {
			t.Fatalf("backup: %v", err)
		}
		if len(st.Failures) > 0 {
			t.Fatalf("failures: %q", st.Failures)
		}
	}

	run()
	for folder, w := range want {
		checkDovecotFolder(t, st, folder, w)
	}
	if c := st.Containers(); !slices.Contains(c, "Проекты") || !slices.Contains(c, archive) || !slices.Contains(c, "Sent") {
		t.Fatalf("containers %q", c)
	}
	cur, _ := decodeCursor(st.CommittedCursor("INBOX"))
	condstore := p.name == "dovecot"
	if cur.LastUID != 21 || (cur.HighestModSeq > 0) != condstore {
		t.Fatalf("INBOX cursor %+v (CONDSTORE expected: %v)", cur, condstore)
	}

	// Flags only: with CONDSTORE this takes the CHANGEDSINCE path.
	inbox := want["INBOX"]
	sd.store("INBOX", 4, imap.StoreFlagsSet, imap.FlagAnswered)
	inbox[4] = seeded{body: inbox[4].body, flags: []string{`\Answered`}, date: inbox[4].date}
	puts := st.BodyPuts
	run()
	checkDovecotFolder(t, st, "INBOX", inbox)
	if st.BodyPuts != puts {
		t.Fatalf("flag change downloaded %d messages", st.BodyPuts-puts)
	}

	// Flags, deletions (incl. the highest UID), new mail, a deleted folder.
	sd.store("INBOX", 1, imap.StoreFlagsAdd, imap.FlagAnswered)
	inbox[1] = seeded{body: inbox[1].body, flags: append(append([]string{}, `\Answered`), inbox[1].flags...), date: inbox[1].date}
	slices.Sort(inbox[1].flags)
	sd.expunge("INBOX", 2, 21)
	delete(inbox, 2)
	delete(inbox, 21)
	for uid, s := range sd.seed("INBOX", 3, "b") {
		inbox[uid] = s
	}
	sd.delete("Проекты")
	puts = st.BodyPuts
	run()
	checkDovecotFolder(t, st, "INBOX", inbox)
	if got := st.BodyPuts - puts; got != 3 {
		t.Fatalf("incremental run downloaded %d messages, want 3", got)
	}
	if slices.Contains(st.Containers(), "Проекты") {
		t.Fatal("deleted folder still live")
	}

	// Nothing changed: no downloads, no commits.
	puts, commits := st.BodyPuts, st.Commits
	run()
	if st.BodyPuts != puts || st.Commits != commits {
		t.Fatalf("no-change run: PutBody +%d, commits +%d", st.BodyPuts-puts, st.Commits-commits)
	}

	// UIDVALIDITY change: the folder is re-created with the same messages.
	oldArchive := st.Items(archive)
	sd.delete(archive)
	sd.create(archive)
	rewant := map[imap.UID]seeded{}
	for _, old := range want[archive] {
		uid := sd.append(archive, old.body, old.date, imap.FlagDeleted)
		rewant[uid] = seeded{body: old.body, flags: []string{`\Deleted`}, date: old.date}
	}
	puts = st.BodyPuts
	run()
	checkDovecotFolder(t, st, archive, rewant)
	if st.BodyPuts != puts {
		t.Fatalf("UIDVALIDITY change downloaded %d messages again", st.BodyPuts-puts)
	}
	for id := range oldArchive {
		if _, ok := st.Items(archive)[id]; ok {
			t.Fatalf("old item %s still live after UIDVALIDITY change", id)
		}
	}

	// A refused token: clear error, no token in it.
	bad := &sourcetest.StaticTokens{Tok: "SECRET-not-a-token"}
	err := src.Backup(context.Background(), testUser(email), bad, sourcetest.New())
	if !errors.Is(err, sources.ErrUnauthorized) || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "mail:imap_ro") {
		t.Fatalf("refused token: %v", err)
	}
}

// TestDovecotTLS backs up over implicit TLS (port 993 style), like Yandex.
func TestDovecotTLS(t *testing.T) {
	for _, env := range []string{"Y360_TEST_DOVECOT_TLS_ADDR", "Y360_TEST_DOVECOT_YANDEX_TLS_ADDR"} {
		t.Run(env, func(t *testing.T) {
			addr := peerEnv(t, env)
			plain := peerEnv(t, strings.Replace(env, "_TLS_ADDR", "_ADDR", 1))
			email := fmt.Sprintf("mailtls-%d@example.org", time.Now().UnixNano())
			want := newSeeder(t, plain, email).seed("INBOX", 3, "t")
			st := sourcetest.New()
			src := New(Config{Addr: addr, Security: SecurityTLS, TLSConfig: dovecotTLS(t)})
			if err := src.Backup(context.Background(), testUser(email), &sourcetest.StaticTokens{Tok: dovecotToken(email)}, st); err != nil {
				t.Fatal(err)
			}
			checkDovecotFolder(t, st, "INBOX", want)
		})
	}
}
