package calendar_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sources"
)

// lister is a engine.UserLister of fixed users.
type lister []sources.User

func (l lister) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for _, u := range l {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// newRepo opens a fresh repository on sink.
func newRepo(t *testing.T, sink sinks.Sink) *engine.Repository {
	t.Helper()
	r, err := engine.OpenOrInit(context.Background(), sink, engine.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// backupRun backs u up with src into repo through the engine and insists
// on a clean snapshot.
func backupRun(t *testing.T, repo *engine.Repository, src sources.Source, u sources.User, tokens func(sources.User) sources.TokenSource) *engine.Snapshot {
	t.Helper()
	snap, err := repo.Backup(context.Background(), engine.RunOptions{Users: lister{u}, Sources: []sources.Source{src}, Tokens: tokens, Concurrency: 1})
	if err != nil {
		t.Fatalf("backup %s: %v", u.Email, err)
	}
	if snap.Status != engine.StatusOK {
		for _, us := range snap.Users {
			for name, ss := range us.Sources {
				t.Logf("%s %s: %s %s failures %v", us.Email, name, ss.Status, ss.Error, ss.Failures)
			}
		}
		t.Fatalf("backup %s: snapshot status %s", u.Email, snap.Status)
	}
	return snap
}

// restoreOpts are RestoreOptions for the calendar source alone.
func restoreOpts(snap *engine.Snapshot, src sources.Restorer, tokens func(sources.User) sources.TokenSource) engine.RestoreOptions {
	return engine.RestoreOptions{
		Snapshot:  snap,
		Restorers: map[string]sources.Restorer{"calendar": src},
		Tokens:    tokens,
	}
}

func mustRestore(t *testing.T, repo *engine.Repository, opts engine.RestoreOptions) *engine.RestoreReport {
	t.Helper()
	rep, err := repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rep.Failed != 0 {
		t.Fatalf("restore reported %d failures: %v", rep.Failed, rep.Failures)
	}
	return rep
}

// putLog records the conditional headers of every PUT a transport sends.
type putLog struct {
	mu   sync.Mutex
	puts []string // "<path> If-None-Match=<v> If-Match=<v>"
}

func (p *putLog) hook(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		p.mu.Lock()
		p.puts = append(p.puts, r.URL.Path+" If-None-Match="+r.Header.Get("If-None-Match")+" If-Match="+r.Header.Get("If-Match"))
		p.mu.Unlock()
	}
	return nil, nil
}

func (p *putLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.puts
	p.puts = nil
	return out
}

var uidLine = regexp.MustCompile(`(?m)^UID:([^\r\n]*)\r?$`)

// uidOf is the first UID in an .ics (tests only: never folded here).
func uidOf(b []byte) string {
	if m := uidLine.FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// sameExceptUID reports whether copy is orig with its UID lines changed
// from one value to another, nothing else.
func sameExceptUID(orig, cp []byte) bool {
	o, c := uidOf(orig), uidOf(cp)
	return o != "" && c != o && strings.ReplaceAll(string(cp), "UID:"+c+"\r\n", "UID:"+o+"\r\n") == string(orig)
}
