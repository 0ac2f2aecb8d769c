package main

// The harnesses' corpus: messages appended over IMAP from the seeded PRNG,
// and the checks that compare what Dovecot holds with a snapshot.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/y360backup/y360backup/backup"
)

// imapConn returns the harness's session as email on Dovecot, opened on
// first use and kept (a login costs a token check by the emulator).
func (h *harness) imapConn(email string) *imapclient.Client {
	h.t.Helper()
	if c := h.conns[email]; c != nil {
		return c
	}
	c, err := imapclient.DialInsecure(h.addr, nil)
	if err != nil {
		h.t.Fatalf("dial %s: %v", h.addr, err)
	}
	if err := c.Login(email, h.emu.MintToken(email)).Wait(); err != nil {
		c.Close()
		h.t.Fatalf("login %s: %v", email, err)
	}
	if h.conns == nil {
		h.conns = map[string]*imapclient.Client{}
		h.t.Cleanup(func() {
			for _, c := range h.conns {
				c.Close()
			}
		})
	}
	h.conns[email] = c
	return c
}

// message builds one message of about size bytes: text, or above 40 KB a
// base64 "attachment" of random bytes (compresses like real ones, ~75 %).
func (h *harness) message(to string, size int) []byte {
	h.seq++
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: corpus@harness.test\r\nTo: %s\r\nSubject: harness message %d\r\nMessage-Id: <%d.%x@harness.test>\r\nDate: %s\r\n",
		to, h.seq, h.seq, h.rng.Uint64(), time.Now().UTC().Format(time.RFC1123Z))
	if size > 40000 {
		raw := make([]byte, size*3/4)
		for i := range raw {
			raw[i] = byte(h.rng.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		b.WriteString("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
		return b.Bytes()
	}
	b.WriteString("\r\n")
	words := []string{"backup", "restore", "lease", "pack", "index", "snapshot", "mail", "folder", "quarterly", "report"}
	for b.Len() < size {
		fmt.Fprintf(&b, "%s %d %s\r\n", words[h.rng.IntN(len(words))], h.rng.IntN(1e6), words[h.rng.IntN(len(words))])
	}
	return b.Bytes()
}

// corpusSize draws a message size: mostly small text, some attachments.
func (h *harness) corpusSize() int {
	if h.rng.IntN(10) == 0 {
		return 60000 + h.rng.IntN(200000)
	}
	return 1000 + h.rng.IntN(20000)
}

// appendMsgs appends msgs to folder (created if missing) as email.
func (h *harness) appendMsgs(email, folder string, msgs [][]byte) {
	h.t.Helper()
	h.appendWith(h.imapConn(email), email, folder, msgs)
}

func (h *harness) appendWith(c *imapclient.Client, email, folder string, msgs [][]byte) {
	h.t.Helper()
	h.touch(email)
	if folder != "INBOX" {
		c.Create(folder, nil).Wait() // may exist
	}
	for _, m := range msgs {
		cmd := c.Append(folder, int64(len(m)), nil)
		cmd.Write(m)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			h.t.Fatalf("append to %s of %s: %v", folder, email, err)
		}
	}
}

// addMail appends n random messages to each folder of each user; a few of
// them go to two users with the same bytes (one blob for both). It returns
// the bytes appended.
func (h *harness) addMail(users []string, folders []string, n int) int64 {
	h.t.Helper()
	var total int64
	shared := h.message("all@harness.test", 3000+h.rng.IntN(3000))
	for _, u := range users {
		c := h.imapConn(u)
		for _, f := range folders {
			var msgs [][]byte
			for i := 0; i < n; i++ {
				msgs = append(msgs, h.message(u, h.corpusSize()))
			}
			if f == "INBOX" {
				msgs = append(msgs, shared)
			}
			for _, m := range msgs {
				total += int64(len(m))
			}
			h.appendWith(c, u, f, msgs)
		}
	}
	return total
}

// churn expunges k messages and flags k others in folder of email, so
// later runs also record deletions and metadata changes.
func (h *harness) churn(email, folder string, k int) {
	h.t.Helper()
	h.touch(email)
	c := h.imapConn(email)
	sel, err := c.Select(folder, nil).Wait()
	if err != nil || sel.NumMessages < uint32(2*k) {
		return
	}
	var del, flag imap.SeqSet
	for i := 0; i < k; i++ {
		del.AddNum(1 + uint32(h.rng.IntN(int(sel.NumMessages))))
		flag.AddNum(1 + uint32(h.rng.IntN(int(sel.NumMessages))))
	}
	c.Store(flag, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	c.Store(del, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if err := c.Expunge().Close(); err != nil {
		h.t.Fatalf("expunge in %s of %s: %v", folder, email, err)
	}
}

// touch marks email's mail as changed (dovecotState reads it again).
func (h *harness) touch(email string) {
	if h.dirty == nil {
		h.dirty = map[string]bool{}
	}
	h.dirty[email] = true
}

// mailbox is what Dovecot holds for one user: folder → item ID
// ("<uidvalidity>/<uid>", as the mail source names items) → SHA-256 of the
// raw message.
type mailbox map[string]map[string]string

// dovecotState reads what Dovecot holds for email. Bodies are fetched (and
// hashed) once: later calls fetch only UIDs not seen before, so checking
// after every episode stays cheap.
func (h *harness) dovecotState(email string) mailbox {
	h.t.Helper()
	if h.seen == nil {
		h.seen = map[string]mailbox{}
	}
	known := h.seen[email]
	if known != nil && !h.dirty[email] {
		return known
	}
	if known == nil {
		known = mailbox{}
	}
	c := h.imapConn(email)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		h.t.Fatalf("list folders of %s: %v", email, err)
	}
	out := mailbox{}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			h.t.Fatalf("select %s of %s: %v", l.Mailbox, email, err)
		}
		items := map[string]string{}
		out[l.Mailbox] = items
		if sel.NumMessages == 0 {
			continue
		}
		all := imap.UIDSet{{Start: 1, Stop: 0}}
		msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			h.t.Fatalf("fetch UIDs of %s of %s: %v", l.Mailbox, email, err)
		}
		var todo imap.UIDSet
		for _, m := range msgs {
			id := fmt.Sprintf("%d/%d", sel.UIDValidity, m.UID)
			if hash, ok := known[l.Mailbox][id]; ok {
				items[id] = hash
			} else {
				todo.AddNum(m.UID)
			}
		}
		if len(todo) > 0 {
			msgs, err = c.Fetch(todo, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
			if err != nil {
				h.t.Fatalf("fetch %s of %s: %v", l.Mailbox, email, err)
			}
			for _, m := range msgs {
				var body []byte
				for _, b := range m.BodySection {
					body = b.Bytes
				}
				sum := sha256.Sum256(body)
				items[fmt.Sprintf("%d/%d", sel.UIDValidity, m.UID)] = hex.EncodeToString(sum[:])
			}
		}
	}
	h.seen[email] = out
	delete(h.dirty, email)
	return out
}

// checkSnapshot compares the newest snapshot with Dovecot: every message of
// every user exactly once, with the same bytes (hash), and nothing else. It
// returns the number of messages compared.
func (h *harness) checkSnapshot(rt *repoTarget, users []string) int {
	h.t.Helper()
	r := h.repo(rt)
	snap, err := r.FindSnapshot(context.Background(), "latest")
	if err != nil {
		h.t.Fatalf("newest snapshot: %v", err)
	}
	n := 0
	for _, u := range users {
		problems, msgs := h.userDiff(r, snap, u)
		if len(problems) > 0 {
			h.t.Fatalf("newest snapshot %s vs Dovecot for %s: %d problem(s):\n  %s", snap.ID, u, len(problems), strings.Join(problems, "\n  "))
		}
		n += msgs
	}
	return n
}

// userDiff compares one user's mail in snap with what Dovecot holds now.
// It returns what differs (at most 20 lines) and how many messages the
// server holds.
func (h *harness) userDiff(r *backup.Repository, snap *backup.Snapshot, u string) ([]string, int) {
	h.t.Helper()
	want := h.dovecotState(u)
	got := mailbox{}
	err := r.Select(context.Background(), snap, backup.Selection{Users: []string{u}, Sources: []string{"mail"}}, func(sc backup.SelectedContainer) error {
		if got[sc.Head.Name] != nil {
			return fmt.Errorf("container %q listed twice", sc.Head.Name)
		}
		items := map[string]string{}
		got[sc.Head.Name] = items
		for _, it := range sc.Items {
			items[it.ID] = it.Hash
		}
		return nil
	})
	if err != nil && !strings.Contains(err.Error(), "not in snapshot") {
		h.t.Fatalf("read %s from snapshot %s: %v", u, snap.ID, err)
	}
	var problems []string
	n := 0
	for folder, items := range want {
		for id, hash := range items {
			switch g, ok := got[folder][id]; {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s %s: missing", folder, id))
			case g != hash:
				problems = append(problems, fmt.Sprintf("%s %s: stored hash %.12s, Dovecot's bytes hash to %.12s", folder, id, g, hash))
			}
		}
		n += len(items)
	}
	for folder, items := range got {
		for id := range items {
			if _, ok := want[folder][id]; !ok {
				problems = append(problems, fmt.Sprintf("%s %s: in the snapshot, not on the server (duplicate or stale)", folder, id))
			}
		}
	}
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... %d more", len(problems)-20))
	}
	return problems, n
}

// copyFolder copies every message of folder into a new folder to (IMAP
// COPY: new UIDs, the same bytes) and returns how many it copied.
func (h *harness) copyFolder(email, folder, to string) int {
	h.t.Helper()
	h.touch(email)
	c := h.imapConn(email)
	if err := c.Create(to, nil).Wait(); err != nil {
		h.t.Fatalf("create %s of %s: %v", to, email, err)
	}
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		h.t.Fatalf("select %s of %s: %v", folder, email, err)
	}
	if _, err := c.Copy(imap.SeqSet{{Start: 1, Stop: 0}}, to).Wait(); err != nil {
		h.t.Fatalf("copy %s to %s of %s: %v", folder, to, email, err)
	}
	return int(sel.NumMessages)
}
