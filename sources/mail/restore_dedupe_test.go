package mail

import (
	"os"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// The post-pass on the real Dovecot, set up by hand: INBOX holds copies a
// "killed run" made (journaled UIDs) next to equal copies nobody journaled
// (a straggler, or the user's own). The rerun must remove journaled copies
// only, never below the number of equal items, and never an unjournaled one.
func TestRestoreDedupeDovecot(t *testing.T) {
	p := dovecotRestorePeer(t, "dovecot", "Y360_TEST_DOVECOT_ADDR", SecurityPlain,
		func(c *Config) { c.RestoreJournalDir = t.TempDir() })
	email := uniq("dedupe") + "@example.org"
	s := p.client(t, email)
	id := uniq("dd")
	noID := []byte("From: robot@example.org\r\nSubject: no id\r\n\r\nwithout Message-Id\r\n")
	x := message(id+"-x", "x", "journaled copy and a straggler")
	y := message(id+"-y", "y", "twice unjournaled: the user's")
	d := message(id+"-d", "d", "twice in the backup")
	z := message(id+"-z", "z", "journaled, alone")
	for _, m := range [][]byte{x, y, d, d, z, noID} {
		s.append("INBOX", m, baseDate)
	}
	snap := p.backup(t, email)

	// The state a killed run and its server session leave behind.
	s.wipe()
	var journaled []uint32
	j := func(m []byte) { journaled = append(journaled, uint32(s.append("INBOX", m, baseDate))) }
	s.append("INBOX", x, baseDate) // x: a straggler (not journaled) and a journaled copy
	j(x)
	s.append("INBOX", y, baseDate) // y: the user's own two copies
	s.append("INBOX", y, baseDate)
	s.append("INBOX", d, baseDate) // d: 3 copies, 2 journaled; the backup has 2
	j(d)
	j(d)
	j(z)                              // z: journaled, alone
	s.append("INBOX", noID, baseDate) // no Message-Id: one of each
	j(noID)
	sel, err := s.c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := openJournal(p.src.cfg.RestoreJournalDir, email, "INBOX", sel.UIDValidity).add(sel.UIDValidity, journaled); err != nil {
		t.Fatal(err)
	}
	// Backdate the journal: no settle wait needed here.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(journalPath(p.src.cfg.RestoreJournalDir, email, "INBOX"), old, old); err != nil {
		t.Fatal(err)
	}

	opts := p.opts(snap)
	opts.InPlace = true
	rep := p.restore(t, opts)
	got := s.read("INBOX")
	count := func(body []byte) int {
		n := 0
		for _, m := range got {
			if string(m.body) == string(body) {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		name string
		body []byte
		want int
	}{{"x", x, 1}, {"y (user's copies)", y, 2}, {"d (twice in the backup)", d, 2}, {"z", z, 1}, {"no Message-Id", noID, 1}} {
		if n := count(c.body); n != c.want {
			t.Errorf("%s: %d copies, want %d", c.name, n, c.want)
		}
	}
	if rep.Written != 0 || len(got) != 7 {
		t.Errorf("rerun wrote %d, INBOX holds %d; want 0 and 7", rep.Written, len(got))
	}
	// Rerun again: nothing changes, the journal is gone.
	p.restore(t, opts)
	if n := len(s.read("INBOX")); n != len(got) {
		t.Errorf("second rerun: %d messages, want %d", n, len(got))
	}
}

// Rerunning an in-place restore appends nothing again, messages without
// Message-Id included (issue 15: "INBOX 42 → 43 → 44"): bare-LF bodies, a
// Date header other than INTERNALDATE, offsets, same size and date twins.
func TestRestoreRerunNoMessageIDDovecot(t *testing.T) {
	p := dovecotRestorePeer(t, "dovecot", "Y360_TEST_DOVECOT_ADDR", SecurityPlain)
	email := uniq("noid") + "@example.org"
	s := p.client(t, email)
	msgs := [][]byte{
		[]byte("From: a@example.org\r\nSubject: plain\r\n\r\nbody\r\n"),
		[]byte("From: a@example.org\nSubject: bare LF\n\nbody\nmore\n"),
		[]byte("From: a@example.org\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\nSubject: dated\r\n\r\nx\r\n"),
		[]byte("From: a@example.org\r\nSubject: twin 1\r\n\r\nsame\r\n"),
		[]byte("From: a@example.org\r\nSubject: twin 2\r\n\r\nsame\r\n"),
		[]byte("Subject: empty id\r\nMessage-Id: \r\n\r\nx\r\n"),
	}
	for i, m := range msgs {
		s.append("INBOX", m, time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("X", (i-3)*3600+1800)), imap.FlagSeen)
	}
	snap := p.backup(t, email)
	opts := p.opts(snap)
	opts.InPlace = true
	for run := 1; run <= 3; run++ {
		rep := p.restore(t, opts)
		if n := len(s.read("INBOX")); n != len(msgs) || rep.Written != 0 {
			t.Fatalf("run %d: INBOX holds %d (wrote %d), want %d", run, n, rep.Written, len(msgs))
		}
	}
}
