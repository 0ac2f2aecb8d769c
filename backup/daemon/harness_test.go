package daemon_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon"
)

var t0 = time.Date(2026, 1, 5, 10, 30, 0, 0, time.UTC)

// runner is a fake RunFunc. Runs of jobs named in block wait until the test
// lets them finish (finish, unblock) or ctx is cancelled; others return an
// "ok" snapshot at once. It checks the daemon's promise that no two runs
// of one process back up the same source at once.
type runner struct {
	mu       sync.Mutex
	starts   []string          // tag+job of every run, in start order
	busy     map[string]string // source → tag+job running it now
	overlaps []string          // runs that shared a source: must stay empty
	cur      int               // runs in progress
	maxPar   int               // most runs ever in progress at once
	release  map[string]chan struct{}
	ignore   map[string]bool // these blocked runs ignore ctx (grace-period tests)
	fail     error
}

func newRunner(block ...string) *runner {
	r := &runner{busy: map[string]string{}, release: map[string]chan struct{}{}, ignore: map[string]bool{}}
	for _, b := range block {
		r.release[b] = make(chan struct{})
	}
	return r
}

// run is the RunFunc of a plan without a tag.
func (r *runner) run(ctx context.Context, j daemon.Job) (*backup.Snapshot, error) {
	return r.runAs("")(ctx, j)
}

// runAs is a RunFunc whose starts and snapshot IDs carry tag, so a test can
// tell which plan's RunFunc performed a run.
func (r *runner) runAs(tag string) daemon.RunFunc {
	return func(ctx context.Context, j daemon.Job) (*backup.Snapshot, error) {
		name := tag + j.Name
		release, ignore, fail := r.enter(name, j.Sources)
		defer r.leave(j.Sources)
		if release != nil {
			if ignore {
				<-release
			} else {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		if fail != nil {
			return nil, fail
		}
		return &backup.Snapshot{ID: name, Status: backup.StatusOK}, nil
	}
}

func (r *runner) enter(name string, srcs []string) (release chan struct{}, ignore bool, fail error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, name)
	for _, s := range srcs {
		if other, ok := r.busy[s]; ok {
			r.overlaps = append(r.overlaps, fmt.Sprintf("%s started while %s was backing up %s", name, other, s))
		}
		r.busy[s] = name
	}
	r.cur++
	r.maxPar = max(r.maxPar, r.cur)
	job := name[strings.LastIndex(name, "/")+1:] // blocking is by job name, whatever the tag
	return r.release[job], r.ignore[job], r.fail
}

func (r *runner) leave(srcs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range srcs {
		delete(r.busy, s)
	}
	r.cur--
}

// finish lets one blocked run of job return; it waits until that run takes it.
func (r *runner) finish(t *testing.T, job string) {
	t.Helper()
	select {
	case r.release[job] <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatalf("no run of %s took its release", job)
	}
}

// unblock lets every run of job, now and later, return.
func (r *runner) unblock(job string) { close(r.release[job]) }

func (r *runner) started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts)
}

// check fails the test if two runs ever shared a source, or if the most
// runs at once was not wantPar.
func (r *runner) check(t *testing.T, wantPar int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.overlaps {
		t.Error(o)
	}
	if r.maxPar != wantPar {
		t.Errorf("at most %d runs at once, want %d", r.maxPar, wantPar)
	}
}

func mustJob(t *testing.T, name, spec string) daemon.Job {
	t.Helper()
	j, err := daemon.NewJob(name, spec, strings.Split(name, "+"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// harness runs a Daemon on a fake clock.
type harness struct {
	t      *testing.T
	clk    *fakeClock
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with its error in err
	err    error
	skips  atomic.Int32
}

func start(t *testing.T, plan *daemon.Plan, opts daemon.Options) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(t0), done: make(chan struct{})}
	opts.Clock = h.clk
	if opts.Jitter == nil {
		opts.Jitter = func(time.Duration) time.Duration { return 0 }
	}
	opts.OnSkip = func(string) { h.skips.Add(1) }
	d, err := daemon.New(plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.err = d.Run(ctx); close(h.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
		}
	})
	h.idle()
	return h
}

// idle waits until the loop sleeps on its timer with the clock's current time seen.
func (h *harness) idle() {
	h.t.Helper()
	waitFor(h.t, "loop idle", func() bool {
		s := h.d.Status()
		return h.clk.waiting() == 1 && s.Started && !s.Heartbeat.Before(h.clk.Now())
	})
}

func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	select {
	case <-h.done:
		return h.err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}
