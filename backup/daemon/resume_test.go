package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
)

// slowSource stores items 0..n-1 of one container, committing after each.
// After committing item stopAt-1 it signals reached and blocks until ctx is
// cancelled, like a long download interrupted by SIGTERM.
type slowSource struct {
	n, stopAt   int
	reached     chan struct{}
	resumedFrom atomic.Int64
}

type slowCursor struct {
	Next int `json:"next"`
}

func (s *slowSource) Name() string { return "mail" }

func (s *slowSource) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	c, err := st.Open(ctx, "INBOX")
	if err != nil {
		return err
	}
	defer c.Close()
	var cur slowCursor
	if raw := c.Cursor(); raw != nil {
		if err := json.Unmarshal(raw, &cur); err != nil {
			return err
		}
	}
	s.resumedFrom.Store(int64(cur.Next))
	for i := cur.Next; i < s.n; i++ {
		b, err := c.PutBody(ctx, strings.NewReader(fmt.Sprintf("message %d of %s", i, u.Email)))
		if err != nil {
			return err
		}
		c.Put(sources.Item{ID: strconv.Itoa(i), Hash: b.Hash, Size: b.Size})
		if err := c.Commit(ctx, slowCursor{Next: i + 1}); err != nil {
			return err
		}
		if i+1 == s.stopAt {
			close(s.reached)
			<-ctx.Done()
			return ctx.Err()
		}
	}
	return nil
}

type oneUser struct{}

func (oneUser) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	return fn(sources.User{ID: "1130000000000001", Email: "alice@example.test", Enabled: true})
}

type staticToken struct{}

func (staticToken) Token(context.Context) (string, error) { return "not-a-real-token", nil }
func (staticToken) Invalidate(string)                     {}

// TestSIGTERMKeepsCheckpoint: a run cancelled by shutdown writes no snapshot
// but keeps its committed checkpoints; the next daemon's run resumes there.
func TestSIGTERMKeepsCheckpoint(t *testing.T) {
	ctx := context.Background()
	sink := mem.New()
	repo, err := backup.OpenOrInit(ctx, sink, backup.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	planFor := func(src sources.Source) *daemon.Plan {
		return &daemon.Plan{
			Jobs:       []daemon.Job{mustJob(t, "mail", "@hourly")},
			Location:   time.UTC,
			RunOnStart: true,
			Run: func(ctx context.Context, j daemon.Job) (*backup.Snapshot, error) {
				return repo.Backup(ctx, backup.RunOptions{
					Users:   oneUser{},
					Sources: []sources.Source{src},
					Tokens:  func(sources.User) sources.TokenSource { return staticToken{} },
				})
			},
		}
	}

	first := &slowSource{n: 50, stopAt: 20, reached: make(chan struct{})}
	ends := make(chan daemon.Result, 2)
	h := start(t, planFor(first), daemon.Options{OnRunEnd: func(r daemon.Result) { ends <- r }})
	select {
	case <-first.reached:
	case <-time.After(10 * time.Second):
		t.Fatal("first run did not reach its checkpoint")
	}
	if err := h.stop(); err != nil { // what SIGTERM does
		t.Fatalf("stop: %v", err)
	}
	if r := <-ends; r.Status() != daemon.StatusInterrupted {
		t.Fatalf("first run status %q (%v), want interrupted", r.Status(), r.Err)
	}
	if snaps, _ := repo.Snapshots(ctx); len(snaps) != 0 {
		t.Fatalf("an interrupted run wrote %d snapshot(s)", len(snaps))
	}

	second := &slowSource{n: 50, stopAt: -1}
	h2 := start(t, planFor(second), daemon.Options{OnRunEnd: func(r daemon.Result) { ends <- r }})
	var r daemon.Result
	select {
	case r = <-ends:
	case <-time.After(20 * time.Second):
		t.Fatal("second run did not finish")
	}
	if r.Status() != backup.StatusOK {
		t.Fatalf("second run: %q %v", r.Status(), r.Err)
	}
	if got := second.resumedFrom.Load(); got != 20 {
		t.Errorf("second run resumed from item %d, want 20 (the last checkpoint)", got)
	}
	if items := r.Snapshot.Totals.Items; items != 30 {
		t.Errorf("second run stored %d items, want the remaining 30", items)
	}
	if err := h2.stop(); err != nil {
		t.Fatal(err)
	}
}
