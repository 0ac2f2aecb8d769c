package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

func TestValidName(t *testing.T) {
	cases := []struct {
		name    string
		wantErr string // "" = valid
	}{
		{"u/1130000018743049/mail", ""},
		{"u/h0123abcdef/disk", ""},
		{"prune", ""},
		{"a_b-C/9", ""},
		{"u/exclusive", ""}, // only the first segment is reserved
		{"", "1 to 512 bytes"},
		{strings.Repeat("a/", 300) + "a", "1 to 512 bytes"},
		{"exclusive", "reserved"},
		{"exclusive/x", "reserved"},
		{"u//mail", "segment"},
		{"/u", "segment"},
		{"u/", "segment"},
		{"u/../x", "segment"},
		{"u/a.b", "segment"},
		{"u/a b", "segment"},
		{"u/ä", "segment"},
		{"u/" + strings.Repeat("x", 129), "segment"},
		{"u/00000000000000000001", "collide"},
		{"u/0000000000000000000", ""},   // 19 digits
		{"u/000000000000000000001", ""}, // 21 digits
		{"u/12345678901234567890x", ""}, // digits and more
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%.30q", c.name), func(t *testing.T) {
			err := ValidName(c.name)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("ValidName(%q) = %v, want %q", c.name, err, c.wantErr)
			}
			if err == nil {
				if kerr := sinks.ValidKey(hbKey(c.name, 1<<63, 1<<63)); kerr != nil {
					t.Errorf("valid name gives an invalid key: %v", kerr)
				}
			}
		})
	}
}

func TestParseRel(t *testing.T) {
	const e = "00000000000000000007"
	cases := []struct {
		rel   string
		epoch uint64
		kind  objKind
		ok    bool
	}{
		{e, 7, kindClaim, true},
		{e + ".released", 7, kindReleased, true},
		{e + ".hb-00000000000000000003", 7, kindHeartbeat, true},
		{"18446744073709551615", 1<<64 - 1, kindClaim, true},
		{"18446744073709551616", 0, 0, false}, // overflows uint64
		{"00000000000000000000", 0, 0, false}, // epoch 0 is never used
		{e + ".hb-3", 0, 0, false},
		{e + ".other", 0, 0, false},
		{"0000000000000000007", 0, 0, false},
		{"x0000000000000000007", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, c := range cases {
		epoch, kind, ok := parseRel(c.rel)
		if epoch != c.epoch || kind != c.kind || ok != c.ok {
			t.Errorf("parseRel(%q) = %d, %d, %v; want %d, %d, %v", c.rel, epoch, kind, ok, c.epoch, c.kind, c.ok)
		}
	}
	// The keys we write parse back.
	for _, k := range []string{claimKey("a/b", 9), hbKey("a/b", 9, 4), releasedKey("a/b", 9)} {
		if epoch, _, ok := parseRel(strings.TrimPrefix(k, prefixOf("a/b"))); !ok || epoch != 9 {
			t.Errorf("key %s does not parse back", k)
		}
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		in          Options
		ttl, refr   time.Duration
		wantErrText string
	}{
		{Options{}, DefaultTTL, DefaultTTL / 5, ""},
		{Options{TTL: time.Second}, time.Second, 200 * time.Millisecond, ""},
		{Options{TTL: 3 * time.Second, Refresh: time.Second}, 3 * time.Second, time.Second, ""},
		{Options{TTL: time.Second, Refresh: 500 * time.Millisecond}, 0, 0, "TTL/3"},
		{Options{TTL: -time.Second}, 0, 0, "positive"},
		{Options{Refresh: -time.Second}, 0, 0, "refresh"},
	}
	for _, c := range cases {
		o, err := c.in.withDefaults()
		if c.wantErrText != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrText) {
				t.Errorf("%+v: err %v, want %q", c.in, err, c.wantErrText)
			}
			continue
		}
		if err != nil || o.TTL != c.ttl || o.Refresh != c.refr || o.Owner == "" || o.Clock == nil || o.Log == nil {
			t.Errorf("%+v: got %+v, %v", c.in, o, err)
		}
	}
	if _, err := Acquire(context.Background(), nil, "x", Options{TTL: -1}); err == nil || !strings.Contains(err.Error(), "lease x: acquire") {
		t.Errorf("bad options: %v", err)
	}
}

func TestAcquireReleaseReacquire(t *testing.T) {
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		ctx := context.Background()
		const name = "u/1130000018743049/mail"
		var last uint64
		for i, owner := range []string{"alpha", "beta", "gamma", "alpha"} {
			l := mustAcquire(t, s, name, fastOpts(owner))
			if l.Epoch() <= last {
				t.Fatalf("holder %d (%s): epoch %d, not above %d", i, owner, l.Epoch(), last)
			}
			last = l.Epoch()
			if l.Name() != name || l.Err() != nil {
				t.Fatalf("lease %q, err %v", l.Name(), l.Err())
			}
			// Anyone else, also the same owner again, is refused.
			_, err := Acquire(ctx, s, name, fastOpts("other"))
			wantHeld(t, err, "lease "+name+": acquire", "owner "+owner, fmt.Sprintf("epoch %d", last))
			mustRelease(t, l)
			if !errors.Is(l.Err(), ErrReleased) {
				t.Errorf("Err after Release = %v", l.Err())
			}
			if err := l.Release(ctx); err != nil {
				t.Errorf("second Release: %v", err)
			}
			select {
			case <-l.Lost():
				t.Error("Release closed Lost()")
			default:
			}
		}
		// Only the newest epoch's objects remain: older ones were collected
		// by each successor; the released claim stays so epochs stay monotonic.
		keys := keysOf(t, s, prefixOf(name))
		want := []string{fmt.Sprintf("%020d", last), fmt.Sprintf("%020d.released", last)}
		if !slices.Equal(keys, want) {
			t.Errorf("objects left %v, want %v", keys, want)
		}
	})
}

func TestHeldMessageNamesHolder(t *testing.T) {
	s := localSinks[0].make(t)
	o := fastOpts("holder-1")
	o.TTL, o.Refresh = time.Minute, 10*time.Second
	l := mustAcquire(t, s, "u/7/disk", o)
	_, err := Acquire(context.Background(), s, "u/7/disk", fastOpts("x"))
	host, _ := os.Hostname()
	he := wantHeld(t, err, "lease u/7/disk: acquire: lease is held", "u/7/disk epoch 1 by owner holder-1",
		fmt.Sprintf("(host %s, pid %d)", host, os.Getpid()), "since 20", "last heartbeat", "ago, expires in ", "s unless refreshed")
	h := he.Holders[0]
	if h.Owner != "holder-1" || h.Epoch != l.Epoch() || h.State != Live || h.TTL != time.Minute ||
		h.Expires.Sub(h.LastHeartbeat) != time.Minute || time.Since(h.Started) > 10*time.Second {
		t.Errorf("holder info %+v", h)
	}
}

func TestHolderKeepsLease(t *testing.T) {
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		l := mustAcquire(t, s, "keep", fastOpts("holder"))
		// Three TTLs: without heartbeats it would have expired twice.
		for end := time.Now().Add(3 * testTTL); time.Now().Before(end); time.Sleep(testTTL / 4) {
			_, err := Acquire(context.Background(), s, "keep", fastOpts("rival"))
			wantHeld(t, err, "owner holder")
		}
		if l.Err() != nil {
			t.Fatalf("holder lost its lease: %v", l.Err())
		}
		// One heartbeat at a time: each refresh deletes the one before.
		var hbs int
		for _, k := range keysOf(t, s, prefixOf("keep")) {
			if strings.Contains(k, hbInfix) {
				hbs++
			}
		}
		if hbs != 1 && hbs != 2 { // 2 only between a Put and its Delete
			t.Errorf("%d heartbeat objects, want 1", hbs)
		}
		mustRelease(t, l)
	})
}

func TestExpiredLeaseTakenOver(t *testing.T) {
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		ctx := context.Background()
		a := mustAcquire(t, s, "crash", fastOpts("a"))
		a.halt() // a crash: no more heartbeats, no release marker
		start := time.Now()
		var b *Lease
		for b == nil {
			l, err := Acquire(ctx, s, "crash", fastOpts("b"))
			switch {
			case err == nil:
				b = l
				t.Cleanup(func() { b.halt() })
			case errors.Is(err, ErrHeld):
				if time.Since(start) > 3*testTTL {
					t.Fatalf("not taken over after %s: %v", time.Since(start), err)
				}
				time.Sleep(10 * time.Millisecond)
			default:
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took < testTTL-testRefresh {
			t.Errorf("taken over after %s, before the TTL %s ran out", took, testTTL)
		}
		if b.Epoch() != a.Epoch()+1 {
			t.Errorf("successor epoch %d, want %d", b.Epoch(), a.Epoch()+1)
		}
		mustRelease(t, b)
	})
}

func TestClaimTTLOverridesShorterObserverTTL(t *testing.T) {
	s := localSinks[0].make(t)
	long := Options{TTL: 10 * time.Second, Refresh: time.Second, Owner: "long"} // far beyond the sleep below, even on a loaded machine
	l := mustAcquire(t, s, "n", long)
	l.halt()
	time.Sleep(2 * testTTL)
	// The rival's own TTL has long run out, the holder's has not.
	_, err := Acquire(context.Background(), s, "n", fastOpts("short"))
	wantHeld(t, err, "owner long")
}

func TestClockSkewJudgesByObserverClock(t *testing.T) {
	s := localSinks[0].make(t)
	l := mustAcquire(t, s, "n", fastOpts("holder"))
	behind := fastOpts("behind")
	behind.Clock = func() time.Time { return time.Now().Add(-time.Hour) }
	if _, err := Acquire(context.Background(), s, "n", behind); !errors.Is(err, ErrHeld) {
		t.Fatalf("clock behind: %v, want ErrHeld", err)
	}
	// A clock far ahead of the store sees a live lease as expired: the
	// reason skew must stay below TTL/2 (package doc, I3).
	ahead := fastOpts("ahead")
	ahead.Clock = func() time.Time { return time.Now().Add(time.Hour) }
	b, err := Acquire(context.Background(), s, "n", ahead)
	if err != nil {
		t.Fatalf("clock ahead: %v, want a takeover", err)
	}
	defer b.halt()
	if !waitClosed(l.Lost(), 5*testRefresh) {
		t.Fatalf("holder did not notice the takeover: %v", l.Err())
	}
}
