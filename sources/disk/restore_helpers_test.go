package disk_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// rwScopes are the scopes restore tokens carry: a restore writes, so the
// service application needs cloud_api:disk.write besides what backups use.
func rwScopes() []string { return append(y360emu.DefaultScopes(), "cloud_api:disk.write") }

// renv is an emulator, the disk source against it and a repository: the
// engine-level restore tests back up through backup.Repository.Backup and
// restore through Repository.Restore, as the CLI does.
type renv struct {
	*env
	src  *disk.Source
	sink sinks.Sink
	repo *engine.Repository

	mu   sync.Mutex
	toks map[string]*sourcetest.StaticTokens // by email
}

func newRestoreEnv(t *testing.T, mod func(*disk.Config)) *renv {
	t.Helper()
	return newRestoreEnvOn(t, mem.New(), mod)
}

func newRestoreEnvOn(t *testing.T, sink sinks.Sink, mod func(*disk.Config)) *renv {
	t.Helper()
	e := newEnv(t)
	repo, err := engine.OpenOrInit(context.Background(), sink, engine.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return &renv{env: e, src: e.source(t, mod), sink: sink, repo: repo, toks: map[string]*sourcetest.StaticTokens{}}
}

// tokens is the engine's token function: one re-minting source per user.
func (d *renv) tokens(u sources.User) sources.TokenSource { return d.tokensFor(u.Email) }

func (d *renv) tokensFor(email string) *sourcetest.StaticTokens {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts, ok := d.toks[email]
	if !ok {
		mint := func() string { return d.emu.MintToken(email, rwScopes()...) }
		ts = &sourcetest.StaticTokens{Tok: mint(), Next: mint}
		d.toks[email] = ts
	}
	return ts
}

// lister is an engine.UserLister of fixed users.
type lister []sources.User

func (l lister) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for _, u := range l {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// backup runs the engine over the env's user and insists on a clean snapshot.
func (d *renv) backup(t *testing.T) *engine.Snapshot {
	t.Helper()
	snap, err := d.repo.Backup(context.Background(), engine.RunOptions{
		Users: lister{d.user}, Sources: []sources.Source{d.src}, Tokens: d.tokens, Concurrency: 1})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if snap.Status != engine.StatusOK {
		for _, us := range snap.Users {
			for name, ss := range us.Sources {
				t.Logf("%s %s: %s %s failures %v", us.Email, name, ss.Status, ss.Error, ss.Failures)
			}
		}
		t.Fatalf("backup: snapshot status %s", snap.Status)
	}
	return snap
}

func (d *renv) opts(snap *engine.Snapshot) engine.RestoreOptions {
	return engine.RestoreOptions{Snapshot: snap, Restorers: map[string]sources.Restorer{"disk": d.src}, Tokens: d.tokens}
}

func (d *renv) restore(t *testing.T, opts engine.RestoreOptions) *engine.RestoreReport {
	t.Helper()
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rep.Failed != 0 {
		t.Fatalf("restore reported %d failures: %v", rep.Failed, rep.Failures)
	}
	return rep
}

// wipe deletes everything on email's Disk (to the trash, as a user would).
func (d *renv) wipe(t *testing.T, email string) {
	t.Helper()
	top := map[string]bool{}
	for _, p := range d.emu.DiskFiles(email) {
		top[strings.SplitN(strings.TrimPrefix(p, "disk:/"), "/", 2)[0]] = true
	}
	for name := range top {
		must(t, d.emu.DiskRemove(email, "/"+name, false))
	}
	if n := len(d.emu.DiskFiles(email)); n != 0 {
		t.Fatalf("%d files left after wipe", n)
	}
}

// diskFile is one file's bytes and modified time as the emulator holds it.
type diskFile struct {
	data     []byte
	modified time.Time
	props    map[string]any
}

// account reads every file of email ("disk:/a/b" → content).
func (d *renv) account(t *testing.T, email string) map[string]diskFile {
	t.Helper()
	out := map[string]diskFile{}
	for _, p := range d.emu.DiskFiles(email) {
		r, _, err := d.emu.DiskOpen(email, p)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.emu.DiskStat(email, p)
		out[p] = diskFile{data: data, modified: fi.Modified, props: fi.Properties}
	}
	return out
}

// assertHolds checks that got has every file of want at rename(path)
// (nil = same path), byte for byte, with the original modified time in the
// custom property when the file is not the original itself.
func assertHolds(t *testing.T, got, want map[string]diskFile, rename func(string) string) {
	t.Helper()
	for p, w := range want {
		dst := p
		if rename != nil {
			dst = rename(p)
		}
		g, ok := got[dst]
		switch {
		case !ok:
			t.Errorf("%s missing (restored from %s)", dst, p)
			continue
		case !bytes.Equal(g.data, w.data):
			t.Errorf("%s: %d bytes differ from the %d backed up", dst, len(g.data), len(w.data))
		}
		orig := w.modified.UTC().Format("2006-01-02T15:04:05-07:00")
		if !g.modified.Equal(w.modified) && g.props[disk.DefaultModifiedProperty] != orig {
			t.Errorf("%s: modified %v, property %v; want the original %s kept", dst, g.modified, g.props, orig)
		}
	}
}

// seedCorpus puts awkward files on email's Disk and returns their count.
func seedCorpus(t *testing.T, d *renv, email string) int {
	t.Helper()
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	files := map[string]string{
		"/Документы/Отчёт за 2024.txt":               "Годовой отчёт\n",
		"/Документы/Договоры/договор №17.pdf":        "%PDF-1.4 contract\n",
		"/Фото/Отпуск/море 🌊.jpg":                    "\xff\xd8\xff\xe0 sea",
		"/Музыка/日本語の歌.mp3":                          "ID3 song",
		"/Загрузки/a b  c.zip":                       "PK\x03\x04 spaces",
		"/..hidden/...":                              "dots only",
		"/..hidden/..a..":                            "dots around",
		"/..hidden/.bashrc":                          "export A=1\n",
		"/weird/100% #1 ?&+=;.txt":                   "query characters",
		"/long/" + strings.Repeat("я", 251) + ".txt": "a 255-character name\n",
		"/empty.txt":                    "",
		"/deep/a/b/c/d/e/f/g/leaf.json": `{"deep":true}`,
		"/dup/one.bin":                  "same bytes",
		"/dup/two.bin":                  "same bytes",
		"/root file.md":                 "# at the root\n",
	}
	i := 0
	for p, body := range files {
		must(t, d.emu.DiskPutFile(email, p, []byte(body), t0.Add(time.Duration(i)*time.Hour)))
		i++
	}
	for j := range 20 {
		must(t, d.emu.DiskPutFile(email, fmt.Sprintf("/bulk/file %02d.txt", j), []byte(strings.Repeat(fmt.Sprint(j), 100+j)), t0))
	}
	return len(files) + 20
}

// uploadsOK checks that no path was uploaded more than once and returns
// the number of uploads.
func uploadsOK(t *testing.T, emu *y360emu.Server, email string) int {
	t.Helper()
	n := 0
	for p, c := range emu.DiskUploadCounts(email) {
		if c != 1 {
			t.Errorf("%s uploaded %d times", p, c)
		}
		n += c
	}
	return n
}

// failuresText joins a report's failures for matching.
func failuresText(rep *engine.RestoreReport) string { return strings.Join(rep.Failures, "\n") }

// snapTime is a fixed modified time for files the tests put.
var snapTime = time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)

// countMethod counts the requests with method the emulator logged.
func countMethod(emu *y360emu.Server, method string) int {
	n := 0
	for _, h := range emu.Hits("") {
		if h.Method == method {
			n++
		}
	}
	return n
}

func totalRequests(emu *y360emu.Server) int { return emu.Count("") }
