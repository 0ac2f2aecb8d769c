package backup

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
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

// gateSource blocks the backup of one user until gate is closed.
type gateSource struct {
	*fakeSource
	user          string
	entered, gate chan struct{}
}

func (g *gateSource) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	if u.Email == g.user {
		close(g.entered)
		<-g.gate
	}
	return g.fakeSource.Backup(ctx, u, tok, st)
}

// KNOWN ISSUE (found by the concurrency harness: "users backed up twice in
// a round"): a run takes each (user, source)'s starting state from the
// snapshot and checkpoints it listed when it began, not when it acquired
// the lease. Writer B starts, writer A then backs up user x and releases
// its lease, B reaches x afterwards and starts it from the state before A:
// it downloads and records A's work again (and re-uploads the bodies its
// index cache has not seen). docs/repository.md: "A run that starts a
// (user, source) takes, as its starting state, the highest (epoch, seq)
// among the newest snapshot's entry and the checkpoint objects". Nothing
// is lost. Run it with Y360_KNOWN_BUGS=1.
func TestLeaseTakenAfterAnotherWriterStartsFromItsState(t *testing.T) {
	if os.Getenv("Y360_KNOWN_BUGS") != "1" {
		t.Skip("known issue: a writer starts a user from the state listed at its own start, not from the state the lease's previous holder left (set Y360_KNOWN_BUGS=1 to run)")
	}
	ctx := context.Background()
	x, y := twoUsers[0], twoUsers[1]
	if leaseBucket(y.ID) >= leaseBucket(x.ID) {
		t.Fatalf("test setup: want %s's lease bucket before %s's", y.ID, x.ID)
	}
	sink := mem.New()
	a, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]map[string]map[string]string{
		x.Email: {"INBOX": {"1": "mail of x"}},
		y.Email: {"INBOX": {"1": "mail of y"}},
	}
	gs := &gateSource{fakeSource: &fakeSource{data: data}, user: y.Email, entered: make(chan struct{}), gate: make(chan struct{})}
	done := make(chan *Snapshot)
	go func() {
		opts := runOpts(gs, twoUsers[:2]) // y first (lease bucket order), then x
		opts.Concurrency = 1
		s, err := b.Backup(ctx, opts)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	<-gs.entered // B has begun, and works on y
	optsA := runOpts(&fakeSource{data: data}, twoUsers[:2])
	optsA.Only = []string{x.Email}
	if _, err := a.Backup(ctx, optsA); err != nil {
		t.Fatal(err)
	}
	close(gs.gate)
	sb := <-done
	for _, u := range sb.Users {
		if ss := u.Sources["fake"]; u.Email == x.Email && ss != nil && !ss.Carried && ss.Stats.Items != 0 {
			t.Errorf("writer B recorded %d item(s) of %s again, which writer A had backed up before B took the lease", ss.Stats.Items, x.Email)
		}
	}
}
