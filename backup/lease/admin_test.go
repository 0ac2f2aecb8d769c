package lease

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

func TestList(t *testing.T) {
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		ctx := context.Background()
		if infos, err := List(ctx, s); err != nil || len(infos) != 0 {
			t.Fatalf("empty repository: %v, %v", infos, err)
		}
		x, err := AcquireExclusive(ctx, s, fastOpts("x"))
		if err != nil {
			t.Fatal(err)
		}
		mustRelease(t, x)
		expired := mustAcquire(t, s, "u/3/mail", fastOpts("c"))
		expired.halt()
		released := mustAcquire(t, s, "u/2/mail", fastOpts("b"))
		mustRelease(t, released)
		released = mustAcquire(t, s, "u/2/mail", fastOpts("b2")) // epoch 2
		mustRelease(t, released)
		time.Sleep(testTTL + testRefresh)
		live := mustAcquire(t, s, "u/1/mail", fastOpts("a"))
		sub := mustAcquire(t, s, "u/1/mail/sub", fastOpts("d")) // a longer name below a shorter one

		infos, err := List(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			name  string
			epoch uint64
			owner string
			state State
		}{
			{Exclusive, 1, "x", Released},
			{"u/1/mail", 1, "a", Live},
			{"u/1/mail/sub", 1, "d", Live},
			{"u/2/mail", 2, "b2", Released},
			{"u/3/mail", 1, "c", Expired},
		}
		if len(infos) != len(want) {
			t.Fatalf("List = %+v, want %d leases", infos, len(want))
		}
		for i, w := range want {
			in := infos[i]
			if in.Name != w.name || in.Epoch != w.epoch || in.Owner != w.owner || in.State != w.state {
				t.Errorf("List[%d] = %s epoch %d owner %s %v, want %+v", i, in.Name, in.Epoch, in.Owner, in.State, w)
			}
			if in.PID != os.Getpid() || in.Host == "" || in.Started.IsZero() || in.TTL != testTTL ||
				in.LastHeartbeat.IsZero() || !in.Expires.Equal(in.LastHeartbeat.Add(testTTL)) {
				t.Errorf("List[%d] fields: %+v", i, in)
			}
		}
		if age := time.Since(infos[1].LastHeartbeat); age > testTTL {
			t.Errorf("live lease's last heartbeat %s old", age)
		}
		mustRelease(t, live)
		mustRelease(t, sub)
	})
}

func TestBreak(t *testing.T) {
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		ctx := context.Background()
		// A live holder whose lease is broken notices at its next refresh.
		a := mustAcquire(t, s, "u/1/mail", fastOpts("a"))
		info, err := Break(ctx, s, "u/1/mail")
		if err != nil || info.State != Live || info.Owner != "a" || info.Epoch != 1 {
			t.Fatalf("Break = %+v, %v", info, err)
		}
		if !waitClosed(a.Lost(), 3*testRefresh) || !strings.Contains(a.Err().Error(), "released by someone else") {
			t.Fatalf("holder did not notice the break: %v", a.Err())
		}
		if info, err := Break(ctx, s, "u/1/mail"); err != nil || info.State != Released {
			t.Errorf("second Break = %+v, %v; want the released lease, no error", info, err)
		}

		// A frozen holder's lease is taken at once after a break, without
		// waiting for the TTL, and nothing is deleted.
		b := mustAcquire(t, s, "u/2/mail", fastOpts("b"))
		b.halt()
		before := keysOf(t, s, prefixOf("u/2/mail"))
		if _, err := Break(ctx, s, "u/2/mail"); err != nil {
			t.Fatal(err)
		}
		after := keysOf(t, s, prefixOf("u/2/mail"))
		if len(after) != len(before)+1 || !strings.HasSuffix(after[len(after)-1], releasedSuffix) {
			t.Errorf("Break changed %v into %v; want only a release marker added", before, after)
		}
		c := mustAcquire(t, s, "u/2/mail", fastOpts("c"))
		if c.Epoch() != 2 {
			t.Errorf("epoch after break %d, want 2", c.Epoch())
		}
		mustRelease(t, c)

		for _, name := range []string{"u/9/none", Exclusive} {
			if _, err := Break(ctx, s, name); !errors.Is(err, ErrNoLease) {
				t.Errorf("Break(%s) = %v, want ErrNoLease", name, err)
			}
		}
		if _, err := Break(ctx, s, "u/../x"); err == nil || !strings.Contains(err.Error(), "segment") {
			t.Errorf("Break(bad name) = %v", err)
		}
	})
}
