package mail

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/sources"
)

// The restore scenarios, each run against the demo server and both Dovecots
// (restore_demo_test.go, restore_dovecot_test.go).

// uniq makes Message-Ids and users unique per test run (Dovecot keeps mail).
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

// seedCorpus fills a mailbox with what a restore must get exactly right:
// Cyrillic and nested folders (and '&' in a name), system flags and
// keywords, INTERNALDATEs in several zones and decades, a malformed message,
// raw 8-bit bytes, messages without Message-Id (two of the same size and
// date), an exact duplicate, one message over the body chunk and one over
// the LITERAL+ limit. It returns the folder names used.
func seedCorpus(t *testing.T, s *imapSeeder, id string) []string {
	t.Helper()
	d := s.delim
	folders := []string{"INBOX", "Проекты", "Проекты" + d + "Архив 2017", "Archive", "Archive" + d + "2017", "R&D"}
	for _, f := range folders[1:] {
		s.create(f)
	}
	msk := time.FixedZone("MSK", 3*3600)
	pst := time.FixedZone("PST", -8*3600)
	noID := func(subject, body string) []byte {
		return []byte("From: robot@example.org\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n")
	}
	same := time.Date(2020, 2, 29, 23, 59, 59, 0, time.UTC)
	dup := message(id+"-dup", "дубль", "the same message twice")
	big := message(id+"-big", "large", strings.Repeat("0123456789abcdef", 150<<10/16))
	huge := message(id+"-huge", "over a megabyte", strings.Repeat("Большое письмо. ", (1<<20+300<<10)/30))
	malformed := []byte("From: a@example.org\r\nMessage-Id: <" + id + "-broken@example.org>\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Transfer-Encoding: base64\r\n\r\n###not base64###\r\n\xff\xfe junk, no closing boundary\r\n")
	eightBit := []byte("From: =?utf-8?b?0JDQvdC90LA=?= <anna@example.org>\r\nMessage-Id: <" + id + "-8bit@example.org>\r\nSubject: сырой UTF-8\r\n\r\nПривет, это тело без кодировки.\r\n")

	inbox := []struct {
		msg   []byte
		date  time.Time
		flags []imap.Flag
	}{
		{message(id+"-1", "Привет", "первое письмо"), baseDate, []imap.Flag{imap.FlagSeen}},
		{message(id+"-2", "Re: отчёт", "answered and forwarded"), time.Date(2023, 7, 1, 9, 30, 0, 0, pst),
			[]imap.Flag{imap.FlagFlagged, imap.FlagAnswered, "$Forwarded"}},
		{noID("draft", "без Message-Id"), time.Date(1999, 12, 31, 23, 59, 58, 0, time.UTC), []imap.Flag{imap.FlagDraft}},
		{message(id+"-4", "deleted", "flagged \\Deleted but not expunged"), time.Date(2024, 1, 2, 3, 4, 5, 0, msk),
			[]imap.Flag{imap.FlagDeleted, "Work_Label", imap.FlagSeen}},
		{malformed, baseDate.Add(time.Hour), []imap.Flag{imap.FlagSeen}},
		{eightBit, baseDate.Add(2 * time.Hour), nil},
		{dup, baseDate.Add(3 * time.Hour), []imap.Flag{imap.FlagSeen}},
		{dup, baseDate.Add(3 * time.Hour), []imap.Flag{imap.FlagSeen}},
		{noID("twin A", "same size, same date"), same, nil},
		{noID("twin B", "same size, same date"), same, []imap.Flag{imap.FlagSeen}},
		{big, baseDate.Add(4 * time.Hour), []imap.Flag{"$Label1"}},
		{huge, baseDate.Add(5 * time.Hour), []imap.Flag{imap.FlagSeen, imap.FlagFlagged}},
	}
	for _, m := range inbox {
		s.append("INBOX", m.msg, m.date, m.flags...)
	}
	for k, f := range folders[1:] {
		for i := 0; i < 3; i++ {
			var flags []imap.Flag
			if i != 1 {
				flags = append(flags, imap.FlagSeen)
			}
			if i == 2 {
				flags = append(flags, "$Forwarded", imap.FlagAnswered)
			}
			s.append(f, message(fmt.Sprintf("%s-f%d-%d", id, k, i), "Папка "+f, strings.Repeat("текст ", 10*i+1)),
				baseDate.Add(time.Duration(k*24+i)*time.Minute), flags...)
		}
	}
	return folders
}

// underName finds the top-level "Restored …" folder a non-destructive
// restore created: want itself, or with ':' for '.' where the server
// refuses dots (Dovecot's Maildir++).
func underName(t *testing.T, p *restorePeer, s *imapSeeder, want string) string {
	t.Helper()
	names := s.folders()
	alt := strings.ReplaceAll(want, ".", ":")
	switch {
	case slices.Contains(names, want):
		if p.demo == nil && want != alt && strings.HasPrefix(p.name, "dovecot") {
			t.Errorf("%s accepted %q, a Maildir++ Dovecot should not", p.name, want)
		}
		return want
	case slices.Contains(names, alt):
		if p.demo != nil {
			t.Errorf("the demo allows dots, yet the restore used %q", alt)
		}
		return alt
	}
	t.Fatalf("no folder %q (or %q) among %q", want, alt, names)
	return ""
}

// scenarioRoundTrip: back up, delete every message and folder, restore in
// place: every message comes back byte for byte with its flags and
// INTERNALDATE; a rerun writes nothing. Then the same snapshot into another
// user, and into the non-destructive "Restored …" folder.
func scenarioRoundTrip(t *testing.T, p *restorePeer) {
	alice, bob := uniq("alice")+"@example.org", uniq("bob")+"@example.org"
	sa := p.client(t, alice)
	seedCorpus(t, sa, uniq("rt"))
	before := sa.account()
	total := countAll(before)
	snap := p.backup(t, alice)
	sa.wipe()
	if n := countAll(sa.account()); n != 0 {
		t.Fatalf("wipe left %d messages", n)
	}

	opts := p.opts(snap)
	opts.InPlace = true
	t0 := time.Now()
	rep := p.restore(t, opts)
	el := time.Since(t0)
	t.Logf("%s: restored %d messages (%.1f MB) in %d folders in %v", p.name, rep.Written, float64(rep.Bytes)/1e6, rep.Containers, el.Round(time.Millisecond))
	if rep.Written != total || rep.Items != total {
		t.Errorf("report %+v, want %d items written", rep, total)
	}
	after := sa.account()
	sameAccount(t, after, before, nil)
	for f, msgs := range before { // appended in the original UID order
		for i := range min(len(msgs), len(after[f])) {
			if !bytes.Equal(msgs[i].body, after[f][i].body) {
				t.Errorf("%s: message %d of %d is not the original's %d-th (uid %d was uid %d)", f, i+1, len(msgs), i+1, after[f][i].uid, msgs[i].uid)
				break
			}
		}
	}
	if countAll(after) != total {
		t.Errorf("%d messages after restore, %d before", countAll(after), total)
	}

	rep = p.restore(t, opts)
	if rep.Written != 0 || countAll(sa.account()) != total {
		t.Errorf("rerun wrote %d; %d messages, want %d", rep.Written, countAll(sa.account()), total)
	}

	// Into another user, in place.
	bu := userFor(bob)
	opts.ToUser = &bu
	rep = p.restore(t, opts)
	sb := p.client(t, bob)
	if rep.Written != total {
		t.Errorf("restore into %s wrote %d, want %d", bob, rep.Written, total)
	}
	sameAccount(t, sb.account(), before, nil)

	// Non-destructive, into alice's "Restored …" folder.
	opts = p.opts(snap)
	rep = p.restore(t, opts)
	if rep.Written != total {
		t.Errorf("restore into %q wrote %d, want %d", rep.Target, rep.Written, total)
	}
	under := underName(t, p, sa, rep.Target)
	got := sa.account()
	sameAccount(t, got, before, func(f string) string { return under + sa.delim + f })
	sameAccount(t, got, before, nil) // the originals are untouched
	if countAll(got) != 2*total {
		t.Errorf("%d messages after the non-destructive restore, want %d", countAll(got), 2*total)
	}
	if rep = p.restore(t, opts); rep.Written != 0 || countAll(sa.account()) != 2*total {
		t.Errorf("rerun into %q wrote %d", under, rep.Written)
	}
}

// scenarioPointInTime: a message deleted between two backups comes back
// only from the first snapshot.
func scenarioPointInTime(t *testing.T, p *restorePeer) {
	email := uniq("pit") + "@example.org"
	s := p.client(t, email)
	id := uniq("pit")
	var uids []imap.UID
	for i := 0; i < 5; i++ {
		uids = append(uids, s.append("INBOX", message(fmt.Sprintf("%s-%d", id, i), "pit", strings.Repeat("x", i+1)), baseDate, imap.FlagSeen))
	}
	snap1 := p.backup(t, email)
	all := s.read("INBOX")
	s.expunge("INBOX", uids[2])
	snap2 := p.backup(t, email)
	s.wipe()

	opts := p.opts(snap2)
	opts.InPlace = true
	p.restore(t, opts)
	var want []stored
	for _, m := range all {
		if m.uid != uids[2] {
			want = append(want, m)
		}
	}
	sameMessages(t, "INBOX from the second snapshot", s.read("INBOX"), want)

	opts = p.opts(snap1)
	opts.InPlace = true
	rep := p.restore(t, opts)
	if rep.Written != 1 {
		t.Errorf("restore of the first snapshot over the second wrote %d, want 1", rep.Written)
	}
	sameMessages(t, "INBOX from the first snapshot", s.read("INBOX"), all)
}

// scenarioPolicies: skip leaves changed flags alone; replace sets the
// backed-up flags back and appends a same-Message-Id message with other
// content; copy appends everything again.
func scenarioPolicies(t *testing.T, p *restorePeer) {
	email := uniq("pol") + "@example.org"
	s := p.client(t, email)
	id := uniq("pol")
	a := s.append("INBOX", message(id+"-a", "A", "a"), baseDate, imap.FlagSeen)
	b := s.append("INBOX", message(id+"-b", "B", "bb"), baseDate, imap.FlagSeen, imap.FlagFlagged)
	c := s.append("INBOX", message(id+"-c", "C", "ccc"), baseDate)
	s.append("INBOX", message(id+"-d", "D", "dddd"), baseDate, "$Forwarded")
	s.append("INBOX", []byte("Subject: no id\r\n\r\nno Message-Id here\r\n"), baseDate, imap.FlagAnswered)
	snap := p.backup(t, email)
	orig := s.read("INBOX")

	// Changes after the backup: flags of a and b, c replaced by a message
	// with the same Message-Id and other bytes.
	s.store("INBOX", a, imap.StoreFlagsSet, imap.FlagFlagged)
	s.store("INBOX", b, imap.StoreFlagsSet, "$Junk")
	s.expunge("INBOX", c)
	cPrime := message(id+"-c", "C changed", "ccc, and more")
	s.append("INBOX", cPrime, baseDate)
	changed := s.read("INBOX")

	run := func(policy string) int {
		t.Helper()
		opts := p.opts(snap)
		opts.InPlace, opts.Policy = true, policy
		return p.restore(t, opts).Written
	}

	if n := run(sources.PolicySkip); n != 1 { // only c is missing
		t.Errorf("skip wrote %d, want 1 (the backed-up c)", n)
	}
	got := s.read("INBOX")
	want := append(append([]stored{}, changed...), storedByBody(t, orig, message(id+"-c", "C", "ccc")))
	sameMessages(t, "INBOX after skip", got, want)

	if n := run(sources.PolicyReplace); n != 2 { // a's and b's flags
		t.Errorf("replace wrote %d, want 2", n)
	}
	want = append([]stored{}, orig...)
	want = append(want, storedByBody(t, changed, cPrime))
	sameMessages(t, "INBOX after replace", s.read("INBOX"), want)
	if n := run(sources.PolicyReplace); n != 0 {
		t.Errorf("replace rerun wrote %d", n)
	}

	if n := run(sources.PolicyCopy); n != len(orig) {
		t.Errorf("copy wrote %d, want %d", n, len(orig))
	}
	sameMessages(t, "INBOX after copy", s.read("INBOX"), append(append([]stored{}, want...), orig...))
}

func storedByBody(t *testing.T, msgs []stored, body []byte) stored {
	t.Helper()
	for _, m := range msgs {
		if bytes.Equal(m.body, body) {
			return m
		}
	}
	t.Fatalf("no message with body %q", body[:min(len(body), 60)])
	return stored{}
}

// appendWatch wraps the source's connections and calls fn with the running
// count of APPEND commands written (a command and its literal may share a
// write, so it counts command lines).
type appendWatch struct {
	n  atomic.Int64
	fn func(n int64, c net.Conn)
}

type watchedConn struct {
	net.Conn
	w       *appendWatch
	onWrite func([]byte) // optional, sees every write
}

func (c *watchedConn) Write(b []byte) (int, error) {
	if c.onWrite != nil {
		c.onWrite(b)
	}
	k := int64(bytes.Count(b, []byte(" APPEND ")))
	n, err := c.Conn.Write(b)
	for i := int64(0); i < k && c.w.fn != nil; i++ {
		c.w.fn(c.w.n.Add(1), c.Conn)
	}
	return n, err
}

func (w *appendWatch) wrap(c net.Conn) net.Conn { return &watchedConn{Conn: c, w: w} }

// scenarioInterrupted: a restore cancelled after some APPENDs, then run
// again, leaves every message exactly once; a connection dropped in the
// middle is re-established within the same run, again without duplicates.
func scenarioInterrupted(t *testing.T, p *restorePeer) {
	if p.src.cfg.Security != SecurityPlain {
		// appendWatch reads the wire: no TLS here (the peers accept both).
		cfg := p.src.cfg
		cfg.Security = SecurityPlain
		p.src = New(cfg)
	}
	email := uniq("int") + "@example.org"
	s := p.client(t, email)
	id := uniq("int")
	for i := 0; i < 40; i++ {
		s.append("INBOX", message(fmt.Sprintf("%s-%d", id, i), "int", strings.Repeat("y", 100+i)), baseDate.Add(time.Duration(i)*time.Minute))
	}
	s.create("Sub")
	for i := 0; i < 10; i++ {
		s.append("Sub", message(fmt.Sprintf("%s-s%d", id, i), "sub", "z"), baseDate)
	}
	before := s.account()
	snap := p.backup(t, email)
	s.wipe()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := &appendWatch{fn: func(n int64, _ net.Conn) {
		if n == 13 {
			cancel()
		}
	}}
	p.src.wrapConn = watch.wrap
	defer func() { p.src.wrapConn = nil }()
	opts := p.opts(snap)
	opts.InPlace = true
	_, err := p.repo.Restore(ctx, opts)
	if err == nil {
		t.Fatal("cancelled restore returned no error")
	}
	time.Sleep(uncertainWait) // let the server finish what it had received
	partial := countAll(s.account())
	t.Logf("%s: cancelled after 13 APPENDs sent: %d messages landed (%v)", p.name, partial, err)
	if partial == 0 || partial >= countAll(before) {
		t.Errorf("%d messages after the cancelled restore", partial)
	}

	p.src.wrapConn = nil
	rep := p.restore(t, opts)
	sameAccount(t, s.account(), before, nil)
	if partial+rep.Written != countAll(before) {
		t.Errorf("rerun wrote %d after %d landed, want %d in all", rep.Written, partial, countAll(before))
	}

	// A connection dropped after the 17th APPEND of a fresh restore.
	s.wipe()
	var dropped sync.Once
	watch = &appendWatch{fn: func(n int64, c net.Conn) {
		if n == 17 {
			dropped.Do(func() { c.Close() })
		}
	}}
	p.src.wrapConn = watch.wrap
	rep = p.restore(t, opts)
	sameAccount(t, s.account(), before, nil)
	if rep.Written != countAll(before) {
		t.Errorf("restore with a dropped connection reported %d written, want %d", rep.Written, countAll(before))
	}
}
