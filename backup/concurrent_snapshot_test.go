package backup

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
)

// snapshotBarrier holds every snapshot object Put until n writers have
// reached theirs: each writer has then read the newest snapshot (to carry
// the others' users) before any of them wrote one.
type snapshotBarrier struct {
	sinks.Sink
	wg   sync.WaitGroup
	mu   sync.Mutex
	held int // snapshot Puts held so far (only each writer's first)
}

func (s *snapshotBarrier) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, snapshotPrefix) {
		s.mu.Lock()
		hold := s.held < 2
		s.held++
		s.mu.Unlock()
		if hold {
			s.wg.Done()
			s.wg.Wait()
		}
	}
	return s.Sink.Put(ctx, key, r, size)
}

// Two writers that back up different users and finish at the same moment
// each carried the other's users from the snapshot before (found by the
// concurrency harness): after writing, a run merges snapshots written since
// the one it carried from, so the newest snapshot holds both.
func TestConcurrentFinishersNewestSnapshotHoldsBoth(t *testing.T) {
	ctx := context.Background()
	sink := &snapshotBarrier{Sink: mem.New()}
	a, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{data: map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "mail of a"}},
		"b@x.test": {"INBOX": {"1": "mail of b"}},
	}}
	sink.wg.Add(2)
	var wg sync.WaitGroup
	for i, r := range []*Repository{a, b} {
		wg.Go(func() {
			opts := runOpts(src, twoUsers[:2])
			opts.Only = []string{twoUsers[i].Email}
			if _, err := r.Backup(ctx, opts); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	newest, err := a.FindSnapshot(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	got := restoreAll(t, a, newest)
	for _, u := range []string{"a@x.test", "b@x.test"} {
		if len(got[u]["INBOX"]) != 1 {
			t.Errorf("newest snapshot %s: %s has %d messages in INBOX, want 1 (backed up by one of the two writers)", newest.ID, u, len(got[u]["INBOX"]))
		}
	}
}
