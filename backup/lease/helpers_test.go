package lease

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sinks/mem"
)

// Short timings for tests that wait for expiry. 200 ms flaked on a 2-CPU
// machine at load 10 under -race (a refresher goroutine went unscheduled for
// the 60 ms of slack that leaves), so 500 ms: the holder then has 250 ms
// without a confirmed refresh before it gives up. Tests that only race use
// slowOpts so that load cannot expire a lease mid-round at all.
const (
	testTTL     = time.Second // wide enough that a loaded CI machine cannot starve a heartbeat past it
	testRefresh = 200 * time.Millisecond
)

func fastOpts(owner string) Options {
	return Options{TTL: testTTL, Refresh: testRefresh, Owner: owner}
}

func slowOpts(owner string) Options {
	return Options{TTL: 20 * time.Second, Refresh: 2 * time.Second, Owner: owner}
}

type sinkMaker struct {
	name string
	make func(t *testing.T) sinks.Sink
}

// localSinks are the sinks every protocol test runs against.
var localSinks = []sinkMaker{
	{"mem", func(t *testing.T) sinks.Sink { return mem.New() }},
	{"fs", newFS},
}

func newFS(t *testing.T) sinks.Sink {
	s, err := fs.Open(fs.Config{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func forEachSink(t *testing.T, fn func(t *testing.T, s sinks.Sink)) {
	for _, sm := range localSinks {
		t.Run(sm.name, func(t *testing.T) { fn(t, sm.make(t)) })
	}
}

func mustAcquire(t *testing.T, s sinks.Sink, name string, o Options) *Lease {
	t.Helper()
	l, err := Acquire(context.Background(), s, name, o)
	if err != nil {
		t.Fatalf("Acquire(%s) as %s: %v", name, o.Owner, err)
	}
	t.Cleanup(func() { l.halt() })
	return l
}

func mustRelease(t *testing.T, l *Lease) {
	t.Helper()
	if err := l.Release(context.Background()); err != nil {
		t.Fatalf("Release(%s): %v", l.name, err)
	}
}

// wantHeld fails unless err wraps ErrHeld and its message contains every
// string in parts.
func wantHeld(t *testing.T, err error, parts ...string) *HeldError {
	t.Helper()
	var he *HeldError
	if !errors.Is(err, ErrHeld) || !errors.As(err, &he) {
		t.Fatalf("got %v, want a *HeldError wrapping ErrHeld", err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
	return he
}

// keysOf lists the keys under prefix, relative to it.
func keysOf(t *testing.T, s sinks.Sink, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), prefix, func(oi sinks.ObjectInfo) error {
		keys = append(keys, strings.TrimPrefix(oi.Key, prefix))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

// waitClosed waits up to d for ch to close.
func waitClosed(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}
