package export_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/export"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// hostileFolders collide after naive cleaning, fold together on a
// case-insensitive filesystem, or name a Maildir's own subdirectories.
var hostileFolders = []string{`q"x`, `q_x`, `q?x`, `Q_X`, "INBOX", "INBOX|cur", "INBOX|new", "a/b", "a|b", "CON", "trail.", "%41", "..", "tab\there"}

// cursorSource stores one item per container and a cursor per container.
type cursorSource struct {
	name    string
	bodies  map[string]string
	cursors map[string]any
}

func (s cursorSource) Name() string { return s.name }
func (s cursorSource) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	for cname, body := range s.bodies {
		c, err := st.Open(ctx, cname)
		if err != nil {
			return err
		}
		b, err := c.PutBody(ctx, strings.NewReader(body))
		if err != nil {
			return err
		}
		c.Put(sources.Item{ID: "7/1", Hash: b.Hash, Size: b.Size, Meta: json.RawMessage(`{"date":"2025-01-01T10:00:00Z"}`)})
		if err := c.Commit(ctx, s.cursors[cname]); err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func backupOf(t *testing.T, srcs ...sources.Source) (*backup.Repository, *backup.Snapshot) {
	t.Helper()
	repo, err := backup.OpenOrInit(context.Background(), mem.New(), backup.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := repo.Backup(context.Background(), backup.RunOptions{Users: oneUser{}, Sources: srcs,
		Tokens: func(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{} }})
	if err != nil || snap.Status != backup.StatusOK {
		t.Fatalf("backup: %v %+v", err, snap)
	}
	return repo, snap
}

func readManifest(t *testing.T, dir string) []export.ManifestEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, export.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []export.ManifestEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e export.ManifestEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// Folders whose names collide after cleaning are never merged: each gets a
// path of its own (reversible: unescaping it gives the name back, unless
// ~N had to be added), the manifest records the original, and a child
// named cur stays out of its parent's Maildir.
func TestExportHostileFolderNames(t *testing.T) {
	bodies := map[string]string{}
	for i, f := range hostileFolders {
		bodies[f] = fmt.Sprintf("Subject: %d\r\n\r\nin %q\r\n", i, f)
	}
	repo, snap := backupOf(t, cursorSource{name: "mail", bodies: bodies})
	for _, format := range []string{export.Maildir, export.Mbox, export.EML} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			rep, err := export.Export(context.Background(), repo, snap, backup.Selection{}, export.Options{Out: out, MailFormat: format})
			if err != nil || rep.Failed != 0 || rep.Items != len(hostileFolders) {
				t.Fatalf("%+v %v", rep, err)
			}
			m := readManifest(t, out)
			if len(m) != len(hostileFolders) {
				t.Fatalf("manifest has %d entries, want %d", len(m), len(hostileFolders))
			}
			seen := map[string]string{}
			for _, e := range m {
				key := strings.ToLower(e.Path)
				if other, dup := seen[key]; dup {
					t.Errorf("%q and %q share %s", e.Container, other, e.Path)
				}
				seen[key] = e.Container
				rel := strings.TrimPrefix(e.Path, "alice@x.test/mail/")
				rel = strings.TrimSuffix(rel, ".mbox")
				var parts []string
				for _, seg := range strings.Split(rel, "/") {
					s, err := export.UnescapeName(seg)
					if err != nil {
						t.Errorf("%s: %v", seg, err)
					}
					parts = append(parts, s)
				}
				back := strings.Join(parts, "|")
				if back != e.Container && back != strings.ReplaceAll(e.Container, "/", "|") && !strings.Contains(e.Path, "~") {
					t.Errorf("%q written to %s, which reads back as %q", e.Container, e.Path, back)
				}
				// Each container's own bytes are where the manifest says.
				want := bodies[e.Container]
				got := readContainer(t, filepath.Join(out, filepath.FromSlash(e.Path)), format)
				if got != want && got != want+"\n" {
					t.Errorf("%q at %s holds %q, want %q", e.Container, e.Path, got, want)
				}
			}
		})
	}
}

// readContainer returns the one message a container's export holds.
func readContainer(t *testing.T, p, format string) string {
	t.Helper()
	switch format {
	case export.Mbox:
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, msg, _ := strings.Cut(string(b), "\n")
		return strings.TrimSuffix(msg, "\n")
	case export.Maildir:
		p = filepath.Join(p, "cur")
	}
	ents, err := os.ReadDir(p)
	var files []string
	for _, e := range ents {
		if !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	if err != nil || len(files) != 1 {
		t.Fatalf("%s: %v, files %v", p, err, files)
	}
	b, _ := os.ReadFile(filepath.Join(p, files[0]))
	return string(b)
}

func TestEscapeNameRoundTrip(t *testing.T) {
	for _, s := range append(hostileFolders, "Проекты", "a%b", " lead", "end ", "x\xffy", "lpt1.txt", "cur") {
		e := export.EscapeName(s, "cur")
		if strings.ContainsAny(e, `/\:*?"<>|`) || strings.HasSuffix(e, ".") || strings.HasSuffix(e, " ") || strings.HasPrefix(e, " ") {
			t.Errorf("EscapeName(%q) = %q: unsafe", s, e)
		}
		if back, err := export.UnescapeName(e); err != nil || back != s {
			t.Errorf("EscapeName(%q) = %q reads back as %q, %v", s, e, back, err)
		}
	}
}

// The merged calendar keeps the display name and the calendar-level
// properties; the manifest names the calendar as its owner sees it.
func TestExportCalendarKeepsNameAndProperties(t *testing.T) {
	obj := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Yandex//EN\r\nMETHOD:PUBLISH\r\nX-WR-TIMEZONE:Europe/Moscow\r\n" +
		"BEGIN:VEVENT\r\nUID:1\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	name := "Работа; дом, " + strings.Repeat("очень длинное имя ", 5)
	repo, snap := backupOf(t, cursorSource{name: "calendar", bodies: map[string]string{"events-123": obj},
		cursors: map[string]any{"events-123": map[string]string{"displayname": name}}})
	out := filepath.Join(t.TempDir(), "out")
	if _, err := export.Export(context.Background(), repo, snap, backup.Selection{}, export.Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "alice@x.test", "calendar", "events-123.ics"))
	if err != nil {
		t.Fatal(err)
	}
	merged := string(b)
	unfolded := strings.ReplaceAll(merged, "\r\n ", "")
	for _, want := range []string{"METHOD:PUBLISH\r\n", "X-WR-TIMEZONE:Europe/Moscow\r\n", `X-WR-CALNAME:Работа\; дом\, очень`} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("merged calendar lacks %q:\n%s", want, merged)
		}
	}
	for _, l := range strings.Split(merged, "\r\n") {
		if len(l) > 75 {
			t.Errorf("line over 75 octets: %q", l)
		}
	}
	if strings.Count(merged, "METHOD:") != 1 || strings.Count(merged, "VERSION:") != 1 {
		t.Errorf("calendar properties repeated:\n%s", merged)
	}
	m := readManifest(t, out)
	if len(m) != 1 || m[0].DisplayName != name || m[0].Container != "events-123" {
		t.Errorf("manifest %+v", m)
	}
}

// An export into a directory that holds anything is refused before it
// writes; --force adds to it; "-" writes a tar stream.
func TestExportRefusesNonEmptyAndStreams(t *testing.T) {
	repo, snap := setup(t)
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "keep.txt"), []byte("x"), 0o600)
	_, err := export.Export(context.Background(), repo, snap, backup.Selection{}, export.Options{Out: out})
	if !errors.Is(err, export.ErrNotEmpty) {
		t.Fatalf("non-empty: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("refused export wrote %d entries", len(ents)-1)
	}
	rep, err := export.Export(context.Background(), repo, snap, backup.Selection{}, export.Options{Out: out, Force: true})
	if err != nil || rep.Failed != 0 {
		t.Errorf("--force: %+v %v", rep, err)
	}
	var buf strings.Builder
	rep, err = export.Export(context.Background(), repo, snap, backup.Selection{}, export.Options{Out: "-", Stream: &buf})
	if err != nil || rep.Failed != 0 || !strings.Contains(buf.String(), "alice@x.test/mail/INBOX/cur/") || !strings.Contains(buf.String(), export.ManifestName) {
		t.Errorf("stream: %+v %v (%d bytes)", rep, err, buf.Len())
	}
}
