package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
)

// Things the restore step loses and brings back for the first user.
const (
	lostEvent = "1716201145402.ics" // the recurring meeting with exceptions
	lostFile  = "/Документы/Отчёт за 2025 год.txt"
)

// restore deletes a mail folder, a calendar event and a Disk file of the
// first user, restores them non-destructively ("Restored <time>" places)
// through the sources' restorers, and checks the bytes that came back.
func (w *world) restore(ctx context.Context, out io.Writer, repo *backup.Repository, snap *backup.Snapshot, log *zap.Logger) error {
	who := w.users[0].Email
	lostMail := w.mail[who][folderProjects]
	event, _ := w.cal.Object(who, caldavdemo.DemoDefault, lostEvent)
	file, err := w.diskBytes(who, lostFile)
	if err != nil {
		return err
	}
	if err := w.imap.DeleteFolder(who, folderProjects); err != nil {
		return err
	}
	if err := w.cal.DeleteObject(who, caldavdemo.DemoDefault, lostEvent); err != nil {
		return err
	}
	if err := w.emu.DiskRemove(who, lostFile, true); err != nil {
		return err
	}
	lostCards := w.emu.ContactsBook(who, y360emu.ContactsPersonal)
	w.emu.ContactsDelete(who, y360emu.ContactsPersonal, "")
	fmt.Fprintf(out, "  deleted for %s: mail folder %q (%d messages), event %s, Disk file %s, %d personal contacts\n",
		who, folderProjects, len(lostMail), lostEvent, lostFile, len(lostCards))

	restorers := map[string]sources.Restorer{}
	var names []string
	for _, s := range w.srcs {
		if r, ok := s.(sources.Restorer); ok {
			restorers[s.Name()] = r
			names = append(names, s.Name())
		}
	}
	rep, err := repo.Restore(ctx, backup.RestoreOptions{
		Snapshot:  snap,
		Selection: backup.Selection{Users: []string{who}, Sources: names, Containers: []string{folderProjects, caldavdemo.DemoDefault, "disk", y360emu.ContactsPersonal}},
		Restorers: restorers, Tokens: w.tokens, Log: log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  restored into %q: %d containers, %d items selected, %d written, %d failed\n", rep.Target, rep.Containers, rep.Items, rep.Written, rep.Failed)
	for _, f := range rep.Failures {
		fmt.Fprintln(out, "    failed:", f)
	}
	var bad []string
	check := func(what string, ok bool) {
		if ok {
			fmt.Fprintf(out, "  back, byte for byte: %s\n", what)
		} else {
			bad = append(bad, what)
		}
	}
	if restorers["mail"] != nil {
		got, err := w.folderHashes(who, rep.Target+"|"+folderProjects)
		check(fmt.Sprintf("%d messages in %q", len(lostMail), rep.Target+"|"+folderProjects), err == nil && sameCounts(got, hashes(lostMail)))
	}
	if restorers["calendar"] != nil {
		check("the recurring event, in calendar \""+w.restoredCalendar(who)+"\"", w.restoredEvent(who, event))
	}
	if restorers["disk"] != nil {
		b, err := w.diskBytes(who, "/"+rep.Target+lostFile)
		check("Disk file /"+rep.Target+lostFile, err == nil && b == file)
	}
	if restorers["contacts"] != nil {
		book, got := w.restoredBook(who, len(lostCards))
		check(fmt.Sprintf("%d personal contacts, in address book %q", len(lostCards), book), sameCards(got, lostCards))
	}
	if len(bad) > 0 || rep.Failed > 0 {
		return fmt.Errorf("demo: restore check failed: %s", strings.Join(bad, "; "))
	}
	return nil
}

func hashes(msgs map[uint32][]byte) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		h := sha256.Sum256(m)
		out[hex.EncodeToString(h[:])]++
	}
	return out
}

func (w *world) diskBytes(who, p string) (string, error) {
	r, _, err := w.emu.DiskOpen(who, p)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// restoredCalendar names the calendar the restore created.
func (w *world) restoredCalendar(who string) string {
	for _, c := range w.cal.Calendars(who) {
		if strings.HasPrefix(c, "restored-") {
			return c
		}
	}
	return ""
}

func (w *world) restoredEvent(who string, want []byte) bool {
	cal := w.restoredCalendar(who)
	for _, o := range w.cal.Objects(who, cal) {
		if b, ok := w.cal.Object(who, cal, o); ok && string(b) == string(want) {
			return true
		}
	}
	return false
}

// folderHashes reads a folder back over IMAP, as a mail client would.
func (w *world) folderHashes(who, folder string) (map[string]int, error) {
	c, err := imapclient.DialInsecure(w.imap.Addr(), nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(who, w.emu.MintToken(who)).Wait(); err != nil {
		return nil, err
	}
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, err
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range msgs {
		for _, b := range m.BodySection {
			h := sha256.Sum256(b.Bytes)
			out[hex.EncodeToString(h[:])]++
		}
	}
	return out, nil
}
