package lease

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
)

// A frozen holder (no timers run) wakes up after a successor took over: its
// next refresh reports the loss, and its late heartbeat harms nobody.
func TestLostFrozenHolder(t *testing.T) {
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		ctx := context.Background()
		a := mustAcquire(t, s, "frozen", fastOpts("a"))
		a.halt()
		time.Sleep(testTTL + testRefresh)
		b := mustAcquire(t, s, "frozen", fastOpts("b"))
		if isClosed(a.Lost()) {
			t.Fatalf("frozen holder already knows: %v", a.Err())
		}
		err := a.refreshOnce(ctx)
		if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "superseded by epoch 2") {
			t.Fatalf("refresh after takeover = %v, want ErrLost superseded by epoch 2", err)
		}
		if !isClosed(a.Lost()) || !errors.Is(a.Err(), ErrLost) {
			t.Fatalf("Lost() not closed, Err %v", a.Err())
		}
		_, err = Acquire(ctx, s, "frozen", fastOpts("c"))
		wantHeld(t, err, "owner b", "epoch 2")
		if b.Err() != nil {
			t.Fatalf("successor disturbed: %v", b.Err())
		}
		// A superseded lease's Release writes no marker for its epoch.
		mustRelease(t, a)
		if keys := keysOf(t, s, prefixOf("frozen")); slices.Contains(keys, fmt.Sprintf("%020d.released", a.Epoch())) {
			t.Errorf("superseded holder wrote a release marker: %v", keys)
		}
		mustRelease(t, b)
	})
}

// logSink collects Options.Log output.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) log(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logSink) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, s) })
}

// A holder whose heartbeats fail retries, then gives up TTL/2 after its last
// good one, while observers still see the lease live: nobody can take over
// before it stopped.
func TestLostWhenRefreshFails(t *testing.T) {
	ctx := context.Background()
	var failing atomic.Bool
	var failures atomic.Int32
	s := mem.New()
	s.FailPut = func(key string) error {
		if failing.Load() && strings.Contains(key, hbInfix) {
			failures.Add(1)
			return errors.New("injected: store unreachable")
		}
		return nil
	}
	logs := &logSink{}
	o := fastOpts("flaky")
	o.Log = logs.log
	a := mustAcquire(t, s, "flaky", o)
	time.Sleep(2 * testRefresh) // some good refreshes first
	failing.Store(true)
	if !waitClosed(a.Lost(), testTTL) {
		t.Fatalf("not lost %s after refreshes began to fail", testTTL)
	}
	lostAt := time.Now()
	ns, err := scanName(ctx, s, "flaky")
	if err != nil {
		t.Fatal(err)
	}
	info, err := describe(ctx, s, ns, lostAt, testTTL)
	if err != nil || info.State != Live {
		t.Errorf("at loss, observers see %v (%v): the holder gave up too late", info.State, err)
	}
	// The last good heartbeat's Put started before its ModTime, and the
	// holder counts TTL/2 from that start; allow a little for the Put.
	if d := lostAt.Sub(info.LastHeartbeat); d < testTTL/2-20*time.Millisecond {
		t.Errorf("gave up %s after the last good heartbeat, before TTL/2 (%s)", d, testTTL/2)
	}
	if failures.Load() < 1 { // normally 2; a timer late under load may leave 1
		t.Errorf("gave up without a failed heartbeat")
	}
	if !errors.Is(a.Err(), ErrLost) || !strings.Contains(a.Err().Error(), "no successful refresh") {
		t.Errorf("Err = %v", a.Err())
	}
	if !logs.contains("refresh failed, will retry") || !logs.contains("injected") {
		t.Errorf("failed refreshes not logged: %q", logs.lines)
	}
	// Releasing a lease lost this way frees it at once.
	failing.Store(false)
	mustRelease(t, a)
	b := mustAcquire(t, s, "flaky", fastOpts("b"))
	mustRelease(t, b)
}

// hangSink blocks heartbeat Puts until their context ends, like a store
// that accepts the connection and never answers.
type hangSink struct {
	sinks.Sink
	hang atomic.Bool
}

func (h *hangSink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if h.hang.Load() && strings.Contains(key, hbInfix) {
		<-ctx.Done()
		return ctx.Err()
	}
	return h.Sink.Put(ctx, key, r, size)
}

func TestLostWhenStoreHangs(t *testing.T) {
	s := &hangSink{Sink: mem.New()}
	a := mustAcquire(t, s, "hang", fastOpts("a"))
	time.Sleep(testRefresh / 2)
	s.hang.Store(true)
	if !waitClosed(a.Lost(), testTTL/2+testRefresh) {
		t.Fatalf("a hanging heartbeat kept the lease past its deadline")
	}
	if !errors.Is(a.Err(), ErrLost) {
		t.Errorf("Err = %v", a.Err())
	}
}

// retrySink reports ErrExist for every Put that succeeded, as an SDK does
// when a request landed but its answer was lost and the retry hit
// If-None-Match.
type retrySink struct{ sinks.Sink }

func (r retrySink) Put(ctx context.Context, key string, rd io.Reader, size int64) error {
	if err := r.Sink.Put(ctx, key, rd, size); err != nil {
		return err
	}
	return fmt.Errorf("retried: %w", sinks.ErrExist)
}

func TestOwnPutRetriedIsNotLost(t *testing.T) {
	s := retrySink{mem.New()}
	a := mustAcquire(t, s, "retry", fastOpts("a"))
	time.Sleep(3 * testRefresh)
	if a.Err() != nil {
		t.Fatalf("lease lost over its own retried heartbeats: %v", a.Err())
	}
	mustRelease(t, a)
	b := mustAcquire(t, s, "retry", fastOpts("b")) // the marker was written
	if b.Epoch() != 2 {
		t.Errorf("epoch %d, want 2", b.Epoch())
	}
}

func TestReleaseFailureCanBeRetried(t *testing.T) {
	var failOnce atomic.Bool
	failOnce.Store(true)
	s := mem.New()
	s.FailPut = func(key string) error {
		if strings.HasSuffix(key, releasedSuffix) && failOnce.CompareAndSwap(true, false) {
			return errors.New("injected")
		}
		return nil
	}
	a := mustAcquire(t, s, "n", fastOpts("a"))
	if err := a.Release(context.Background()); err == nil || !strings.Contains(err.Error(), "lease n: release epoch 1: injected") {
		t.Fatalf("Release = %v, want the injected failure", err)
	}
	if !errors.Is(a.Err(), ErrReleased) {
		t.Errorf("Err after a failed Release = %v, want ErrReleased (it no longer refreshes)", a.Err())
	}
	mustRelease(t, a)
	mustRelease(t, mustAcquire(t, s, "n", fastOpts("b"))) // at once: the retry wrote the marker
}

// A claim deleted by hand loses the lease, and its holder must not mark an
// epoch that may be claimed afresh as released.
func TestClaimDeletedByHand(t *testing.T) {
	s := mem.New()
	a := mustAcquire(t, s, "n", fastOpts("a"))
	if err := s.Delete(context.Background(), claimKey("n", a.Epoch())); err != nil {
		t.Fatal(err)
	}
	if !waitClosed(a.Lost(), 3*testRefresh) || !strings.Contains(a.Err().Error(), "claim of epoch 1 is gone") {
		t.Fatalf("Err = %v", a.Err())
	}
	mustRelease(t, a)
	for _, k := range keysOf(t, s, prefixOf("n")) {
		if strings.HasSuffix(k, releasedSuffix) {
			t.Errorf("release marker %s written for a claim that is gone", k)
		}
	}
}

// cancelAfter cancels the acquirer's context right after its claim landed.
type cancelAfter struct {
	sinks.Sink
	key    string
	cancel context.CancelFunc
}

func (c cancelAfter) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	err := c.Sink.Put(ctx, key, r, size)
	if key == c.key {
		c.cancel()
	}
	return err
}

// An acquirer whose context ends after its claim landed releases the claim
// anyway, so the next acquirer need not wait for the TTL.
func TestCancelledAcquireReleasesClaim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := cancelAfter{Sink: mem.New(), key: claimKey("n", 1), cancel: cancel}
	if _, err := Acquire(ctx, s, "n", fastOpts("a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
	b := mustAcquire(t, s, "n", fastOpts("b"))
	if b.Epoch() != 2 {
		t.Errorf("epoch %d, want 2", b.Epoch())
	}
	mustRelease(t, b)
}

// A frozen holder whose lease expired without anyone taking its name must
// still notice, by the gap in its heartbeats' ModTimes: a conflicting lock
// (here the exclusive one, or normal leases for a frozen exclusive holder)
// may have been taken meanwhile, which its own listing cannot show.
func TestLapsedHolderNoticesWithoutSuccessor(t *testing.T) {
	cases := []struct {
		name          string
		frozen, other func(t *testing.T, s sinks.Sink) (*Lease, error)
	}{
		{"normal holder, exclusive taken", func(t *testing.T, s sinks.Sink) (*Lease, error) {
			return Acquire(context.Background(), s, "u/1/mail", fastOpts("n"))
		}, func(t *testing.T, s sinks.Sink) (*Lease, error) {
			return AcquireExclusive(context.Background(), s, fastOpts("x"))
		}},
		{"exclusive holder, normal taken", func(t *testing.T, s sinks.Sink) (*Lease, error) {
			return AcquireExclusive(context.Background(), s, fastOpts("x"))
		}, func(t *testing.T, s sinks.Sink) (*Lease, error) {
			return Acquire(context.Background(), s, "u/1/mail", fastOpts("n"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachSink(t, func(t *testing.T, s sinks.Sink) {
				frozen, err := c.frozen(t, s)
				if err != nil {
					t.Fatal(err)
				}
				frozen.halt()
				time.Sleep(testTTL + testRefresh)
				other, err := c.other(t, s)
				if err != nil {
					t.Fatalf("expired lease still blocks: %v", err)
				}
				defer other.Release(context.Background())
				err = frozen.refreshOnce(context.Background())
				if !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "lapsed") || !isClosed(frozen.Lost()) {
					t.Fatalf("refresh after the lapse = %v, want ErrLost (lapsed)", err)
				}
				if other.Err() != nil {
					t.Errorf("the other lock was disturbed: %v", other.Err())
				}
			})
		})
	}
}

// Err checks the deadline itself: a holder waking from a freeze learns of
// the loss from its first Err call, before its refresher runs.
func TestErrChecksDeadline(t *testing.T) {
	a := mustAcquire(t, mem.New(), "n", fastOpts("a"))
	a.halt()
	if err := a.Err(); err != nil {
		t.Fatalf("Err right after acquiring = %v", err)
	}
	time.Sleep(testTTL/2 + testRefresh/2)
	if err := a.Err(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "no successful refresh") || !isClosed(a.Lost()) {
		t.Fatalf("Err after the deadline = %v, want ErrLost", err)
	}
}
