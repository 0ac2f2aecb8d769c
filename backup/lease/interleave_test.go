package lease

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/y360backup/y360backup/sinks/mem"
)

// hooks run a function just before the first Put of a key lands, to force
// an interleaving: "A has decided to write and stalls; meanwhile ...".
type hooks struct {
	mu  sync.Mutex
	fns map[string]func()
}

func hookedMem() (*mem.Sink, *hooks) {
	s, h := mem.New(), &hooks{fns: map[string]func(){}}
	s.FailPut = func(key string) error {
		h.mu.Lock()
		fn := h.fns[key]
		delete(h.fns, key)
		h.mu.Unlock()
		if fn != nil {
			fn()
		}
		return nil
	}
	return s, h
}

func (h *hooks) before(key string, fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns[key] = fn
}

// An acquirer that stalls between its listing and its Put loses: to a rival
// that claimed the same epoch (ErrExist), and also to one that claimed a
// higher epoch and deleted the lower claim (the Put succeeds; the
// confirming listing sees the higher epoch).
func TestStalledAcquirer(t *testing.T) {
	cases := []struct {
		name     string
		meantime func(t *testing.T, s *mem.Sink) *Lease // returns the lease that must survive
		winner   string
		epoch    uint64
	}{
		{"rival claims the same epoch", func(t *testing.T, s *mem.Sink) *Lease {
			return mustAcquire(t, s, "n", fastOpts("b"))
		}, "b", 2},
		{"rival claims, releases, successor collects", func(t *testing.T, s *mem.Sink) *Lease {
			mustRelease(t, mustAcquire(t, s, "n", fastOpts("b")))
			return mustAcquire(t, s, "n", fastOpts("c"))
		}, "c", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, h := hookedMem()
			mustRelease(t, mustAcquire(t, s, "n", fastOpts("first"))) // epoch 1, released
			var survivor *Lease
			h.before(claimKey("n", 2), func() { survivor = c.meantime(t, s) })
			_, err := Acquire(context.Background(), s, "n", fastOpts("a"))
			wantHeld(t, err, "owner "+c.winner, fmt.Sprintf("epoch %d", c.epoch))
			if survivor.Err() != nil || survivor.Epoch() != c.epoch {
				t.Fatalf("survivor epoch %d, err %v", survivor.Epoch(), survivor.Err())
			}
			_, err = Acquire(context.Background(), s, "n", fastOpts("d"))
			wantHeld(t, err, "owner "+c.winner)
			// The stalled claim is gone: only the survivor's epoch is left.
			for _, k := range keysOf(t, s, prefixOf("n")) {
				if epoch, _, _ := parseRel(k); epoch != c.epoch {
					t.Errorf("object %s left beside epoch %d", k, c.epoch)
				}
			}
			mustRelease(t, survivor)
		})
	}
}

// Exclusive vs normal, each one stalled just before its claim lands while
// the other runs to completion: the one that checked last backs off.
func TestExclusiveInterleavings(t *testing.T) {
	ctx := context.Background()
	const name = "u/1/mail"
	t.Run("exclusive runs inside the normal acquirer's window", func(t *testing.T) {
		s, h := hookedMem()
		var x *Lease
		h.before(claimKey(name, 1), func() {
			var err error
			if x, err = AcquireExclusive(ctx, s, fastOpts("x")); err != nil {
				t.Errorf("exclusive: %v", err)
			}
		})
		_, err := Acquire(ctx, s, name, fastOpts("n"))
		wantHeld(t, err, "after claiming epoch 1", "exclusive epoch 1 by owner x")
		if x == nil || x.Err() != nil {
			t.Fatal("exclusive lock not held")
		}
		if !slices.Contains(keysOf(t, s, prefixOf(name)), fmt.Sprintf("%020d%s", 1, releasedSuffix)) {
			t.Error("backed-off claim was not released")
		}
		defer mustRelease(t, x)
	})
	t.Run("normal runs inside the exclusive acquirer's window", func(t *testing.T) {
		s, h := hookedMem()
		var n *Lease
		h.before(claimKey(Exclusive, 1), func() {
			var err error
			if n, err = Acquire(ctx, s, name, fastOpts("n")); err != nil {
				t.Errorf("normal: %v", err)
			}
		})
		_, err := AcquireExclusive(ctx, s, fastOpts("x"))
		wantHeld(t, err, "lease exclusive: acquire: after claiming epoch 1", name+" epoch 1 by owner n")
		if n == nil || n.Err() != nil {
			t.Fatal("normal lease not held")
		}
		// The exclusive claim was released, so normal leases proceed at once.
		m := mustAcquire(t, s, "u/2/mail", fastOpts("m"))
		mustRelease(t, m)
		mustRelease(t, n)
	})
}

func TestExclusiveRefusals(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	var held []*Lease
	for i := range 5 {
		held = append(held, mustAcquire(t, s, fmt.Sprintf("u/%d/mail", i), fastOpts(fmt.Sprintf("n%d", i))))
	}
	_, err := AcquireExclusive(ctx, s, fastOpts("x"))
	wantHeld(t, err, "u/0/mail epoch 1 by owner n0", "u/2/mail", "and 2 more")
	for _, l := range held {
		mustRelease(t, l)
	}
	x, err := AcquireExclusive(ctx, s, fastOpts("x"))
	if err != nil {
		t.Fatalf("all released: %v", err)
	}
	if x.Epoch() != 2 { // epoch 1 was claimed and released by the refusal
		t.Errorf("exclusive epoch %d, want 2", x.Epoch())
	}
	before := keysOf(t, s, prefixOf("u/0/mail"))
	_, err = Acquire(ctx, s, "u/0/mail", fastOpts("n0"))
	wantHeld(t, err, "lease u/0/mail: acquire: lease is held: exclusive epoch 2 by owner x")
	if after := keysOf(t, s, prefixOf("u/0/mail")); !slices.Equal(before, after) {
		t.Errorf("a refused acquirer wrote %v; the early check should stop it", after)
	}
	mustRelease(t, x)
	mustRelease(t, mustAcquire(t, s, "u/0/mail", fastOpts("n0")))
}
