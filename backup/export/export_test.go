package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/y360backup/y360backup/internal/testpeer"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/export"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// staticSource stores fixed items under a given source name.
type staticSource struct {
	name  string
	items map[string][]struct{ id, body, meta string } // container → items
}

func (s staticSource) Name() string { return s.name }
func (s staticSource) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	for cname, items := range s.items {
		c, err := st.Open(ctx, cname)
		if err != nil {
			return err
		}
		for _, it := range items {
			b, err := c.PutBody(ctx, strings.NewReader(it.body))
			if err != nil {
				return err
			}
			c.Put(sources.Item{ID: it.id, Hash: b.Hash, Size: b.Size, Meta: json.RawMessage(it.meta)})
		}
		if err := c.Commit(ctx, 1); err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

type oneUser struct{}

func (oneUser) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	return fn(sources.User{ID: "1", Email: "alice@x.test", Enabled: true})
}

var mails = []string{
	"From: a@x.test\r\nSubject: one\r\nMessage-Id: <1@x>\r\n\r\nFrom the start\r\n>From quoted\r\nend\r\n",
	"Subject: two\r\n\r\nno final newline",
	"Subject: three\r\n\r\nbroken \xff\xfe MIME\r\n",
}

const ev = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Yandex LLC//Yandex Calendar//EN\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Moscow\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:%d@yandex.ru\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Moscow:20260105T090000\r\nSUMMARY:Встреча %d\r\nX-TELEMOST-CONFERENCE:https://telemost.yandex.ru/j/%d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

func setup(t *testing.T) (*backup.Repository, *backup.Snapshot) {
	t.Helper()
	ctx := context.Background()
	repo, err := backup.OpenOrInit(ctx, mem.New(), backup.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	type it = struct{ id, body, meta string }
	var inbox []it
	for i, m := range mails {
		inbox = append(inbox, it{fmt.Sprintf("7/%d", i+1), m, fmt.Sprintf(`{"uid":%d,"flags":["\\Seen","\\Flagged"],"date":"2025-0%d-01T10:00:00Z","message_id":"<%d@x>"}`, i+1, i+1, i+1)})
	}
	var cal []it
	for i := 0; i < 3; i++ {
		cal = append(cal, it{fmt.Sprintf("ev-%d.ics", i), fmt.Sprintf(ev, i, i, i), `{"etag":"x"}`})
	}
	srcs := []sources.Source{
		staticSource{"mail", map[string][]it{"INBOX": inbox, "Проекты|2025": inbox[:1]}},
		staticSource{"calendar", map[string][]it{"events-default": cal}},
		staticSource{"disk", map[string][]it{"disk": {
			{"disk:/Docs/отчёт.txt", "report", `{"path":"disk:/Docs/отчёт.txt","modified":"2025-01-02T03:04:05Z"}`},
			{"disk:/../evil", "evil", `{"path":"disk:/../evil"}`},
			{"disk:/CON", "con", `{"path":"disk:/CON"}`},
		}}},
	}
	snap, err := repo.Backup(ctx, backup.RunOptions{Users: oneUser{}, Sources: srcs,
		Tokens: func(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{} }})
	if err != nil || snap.Status != backup.StatusOK {
		t.Fatalf("backup: %v %+v", err, snap)
	}
	return repo, snap
}

func python(t *testing.T) string {
	p, err := exec.LookPath("python3")
	if err != nil {
		testpeer.Missing(t, "python3 (needed to read exports back) is not installed")
	}
	return p
}

// readBack uses Python's mailbox module, an independent reader, and prints
// one line per message: len and the first header line.
const readBack = `
import mailbox, sys, hashlib, re
kind, path = sys.argv[1], sys.argv[2]
box = mailbox.Maildir(path, factory=None, create=False) if kind == "maildir" else mailbox.mbox(path, create=False)
for key in sorted(box.keys(), key=lambda k: box.get_bytes(k)):
    b = box.get_bytes(key)
    if kind == "mbox":  # undo mboxrd quoting: Python's mbox keeps it
        b = re.sub(rb"(?m)^>(>*From )", rb"\1", b)
    flags = box[key].get_flags() if kind == "maildir" else ""
    print(hashlib.sha256(b).hexdigest(), flags)
`

func pyRead(t *testing.T, kind, path string) []string {
	out, err := exec.Command(python(t), "-c", readBack, kind, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python read %s: %v\n%s", path, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	return lines
}

func TestExportMaildirAndMboxReadBack(t *testing.T) {
	repo, snap := setup(t)
	ctx := context.Background()
	for _, format := range []string{export.Maildir, export.Mbox} {
		out := filepath.Join(t.TempDir(), "out")
		rep, err := export.Export(ctx, repo, snap, backup.Selection{Sources: []string{"mail"}}, export.Options{Out: out, MailFormat: format})
		if err != nil || rep.Failed != 0 || rep.Items != 4 {
			t.Fatalf("%s: %+v %v", format, rep, err)
		}
		var got []string
		if format == export.Maildir {
			got = pyRead(t, "maildir", filepath.Join(out, "alice@x.test", "mail", "INBOX"))
		} else {
			got = pyRead(t, "mbox", filepath.Join(out, "alice@x.test", "mail", "INBOX.mbox"))
		}
		if len(got) != 3 {
			t.Fatalf("%s: read back %d messages: %v", format, len(got), got)
		}
		for _, m := range mails {
			want := sha(m)
			if format == export.Mbox && !strings.HasSuffix(m, "\n") {
				want = sha(m + "\n") // mbox stores messages line-terminated
			}
			found := false
			for _, g := range got {
				if strings.HasPrefix(g, want) {
					found = true
					if format == export.Maildir && !strings.HasSuffix(g, " FS") {
						t.Errorf("maildir flags lost: %s", g)
					}
				}
			}
			if !found {
				t.Errorf("%s: message %q not read back byte for byte: %v", format, m[:12], got)
			}
		}
		if format == export.Maildir {
			if _, err := os.Stat(filepath.Join(out, "alice@x.test", "mail", "Проекты", "2025", "cur")); err != nil {
				t.Errorf("nested Cyrillic folder: %v", err)
			}
		}
	}
}

func TestExportCalendarAndDisk(t *testing.T) {
	repo, snap := setup(t)
	out := filepath.Join(t.TempDir(), "out")
	rep, err := export.Export(context.Background(), repo, snap, backup.Selection{Sources: []string{"calendar", "disk"}}, export.Options{Out: out})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	merged, err := os.ReadFile(filepath.Join(out, "alice@x.test", "calendar", "events-default.ics"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(merged), "BEGIN:VEVENT"); n != 3 {
		t.Errorf("merged calendar has %d events", n)
	}
	if n := strings.Count(string(merged), "BEGIN:VTIMEZONE"); n != 1 {
		t.Errorf("merged calendar has %d timezones, want 1", n)
	}
	if !strings.Contains(string(merged), "X-TELEMOST-CONFERENCE:https://telemost.yandex.ru/j/2") {
		t.Error("X- property lost")
	}
	one, _ := os.ReadFile(filepath.Join(out, "alice@x.test", "calendar", "events-default", "ev-1.ics"))
	if string(one) != fmt.Sprintf(ev, 1, 1, 1) {
		t.Error("single .ics not byte-exact")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "alice@x.test", "disk", "Docs", "отчёт.txt")); string(b) != "report" {
		t.Errorf("disk file: %q", b)
	}
	fi, err := os.Stat(filepath.Join(out, "alice@x.test", "disk", "Docs", "отчёт.txt"))
	if err != nil || !fi.ModTime().Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("mtime: %v %v", fi, err)
	}
	// Hostile names stay inside the output.
	if _, err := os.Stat(filepath.Join(out, "alice@x.test", "evil")); err == nil {
		t.Error("../evil escaped the disk folder")
	}
	if _, err := os.Stat(filepath.Join(out, "alice@x.test", "disk", "%43ON")); err != nil {
		t.Errorf("reserved name not renamed: %v", err)
	}
}

func TestExportTarZst(t *testing.T) {
	repo, snap := setup(t)
	out := filepath.Join(t.TempDir(), "backup.tar.zst")
	rep, err := export.Export(context.Background(), repo, snap, backup.Selection{}, export.Options{Out: out, MailFormat: export.Mbox})
	if err != nil || rep.Failed != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
	list, err := exec.Command("sh", "-c", "zstd -dc "+out+" | tar -t").CombinedOutput()
	if err != nil {
		t.Skipf("zstd/tar not available: %v %s", err, list)
	}
	for _, want := range []string{"alice@x.test/mail/INBOX.mbox", "alice@x.test/calendar/events-default.ics", "alice@x.test/disk/Docs/отчёт.txt"} {
		if !strings.Contains(string(list), want) {
			t.Errorf("tar lacks %s:\n%s", want, list)
		}
	}
}

func TestSafeName(t *testing.T) {
	tests := map[string]string{"a/b": "a_b", "..": "_", "con": "_con", "x\x00y": "x_y", "trail. ": "trail", "Проекты": "Проекты", "": "_"}
	for in, want := range tests {
		if got := export.SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("я", 300)
	if got := export.SafeName(long); len(got) > 200 || !strings.Contains(got, "~") {
		t.Errorf("long name: %d bytes", len(got))
	}
}
