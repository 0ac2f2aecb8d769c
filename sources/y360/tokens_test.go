package y360_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

func TestTokensSameSourcePerUser(t *testing.T) {
	e := newEnv(t, nil, nil)
	a1, a2 := e.c.Tokens(alice), e.c.Tokens(sources.User{ID: alice.ID, Email: "renamed@demo.y360.test"})
	if a1 != a2 {
		t.Error("two TokenSources for one user id")
	}
	if e.c.Tokens(mallory) == a1 {
		t.Error("different users share a TokenSource")
	}
	other := newEnv(t, nil, nil)
	if other.c.Tokens(alice) == a1 {
		t.Error("cache shared between clients")
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	e := newEnv(t, nil, nil)
	ts := e.c.Tokens(alice)
	ctx := context.Background()
	t1, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance   time.Duration
		exchanges int
		same      bool
	}{
		{0, 1, true},
		{30 * time.Minute, 1, true},
		{17*time.Minute + 59*time.Second, 1, true}, // 47m59s: below 80% of 1h
		{time.Second, 2, false},                    // 48m: re-minted
		{time.Minute, 2, true},                     // the new one is cached again
	}
	prev := t1
	for i, st := range steps {
		e.clk.Advance(st.advance)
		tok, err := ts.Token(ctx)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if n := e.emu.Count("/token"); n != st.exchanges {
			t.Errorf("step %d: %d exchanges, want %d", i, n, st.exchanges)
		}
		if (tok == prev) != st.same {
			t.Errorf("step %d: token changed=%v, want %v", i, tok != prev, !st.same)
		}
		prev = tok
	}
}

// Short lifetimes from the server are honoured too (80% of 10 s = 8 s).
func TestTokenCacheShortLifetime(t *testing.T) {
	e := newEnv(t, func(o *y360emu.Options) { o.TokenLifetime = 10 * time.Second }, nil)
	ts := e.c.Tokens(alice)
	t1, _ := ts.Token(context.Background())
	e.clk.Advance(7 * time.Second)
	if t2, _ := ts.Token(context.Background()); t2 != t1 {
		t.Error("re-minted before 80%")
	}
	e.clk.Advance(time.Second)
	if t3, _ := ts.Token(context.Background()); t3 == t1 || e.emu.Count("/token") != 2 {
		t.Errorf("not re-minted at 80%% (%d exchanges)", e.emu.Count("/token"))
	}
}

func TestTokenConcurrentCallersShareOneExchange(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.Slow("/token", 300*time.Millisecond) // keep the exchange in flight while everybody asks
	ts := e.c.Tokens(alice)
	const n = 20
	toks := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks[i], errs[i] = ts.Token(context.Background())
		}()
	}
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("caller %d: %q %v", i, toks[i], errs[i])
		}
	}
	if c := e.emu.Count("/token"); c != 1 {
		t.Errorf("%d exchanges for %d concurrent callers, want 1", c, n)
	}
}

func TestTokenInvalidate(t *testing.T) {
	e := newEnv(t, nil, nil)
	ts := e.c.Tokens(alice)
	ctx := context.Background()
	old, _ := ts.Token(ctx)

	// Ten workers all got a 401 with the same token.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts.Invalidate(old)
			if _, err := ts.Token(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if c := e.emu.Count("/token"); c != 2 {
		t.Errorf("%d exchanges, want 2 (initial + one re-mint)", c)
	}
	fresh, _ := ts.Token(ctx)
	if fresh == old {
		t.Fatal("still the invalidated token")
	}
	// A late Invalidate of the old token must not drop the fresh one.
	ts.Invalidate(old)
	ts.Invalidate("")
	if again, _ := ts.Token(ctx); again != fresh || e.emu.Count("/token") != 2 {
		t.Errorf("stale Invalidate dropped the fresh token (%d exchanges)", e.emu.Count("/token"))
	}
	ts.Invalidate(fresh)
	if again, _ := ts.Token(ctx); again == fresh || e.emu.Count("/token") != 3 {
		t.Error("Invalidate(current) did not force a re-mint")
	}
}

func TestTokenContextHonoured(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.Slow("/token", time.Second)
	ts := e.c.Tokens(alice)

	// An impatient caller gives up; a patient one sharing the exchange still gets the token.
	patient := make(chan error, 1)
	go func() {
		_, err := ts.Token(context.Background())
		patient <- err
	}()
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ts.Token(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 600*time.Millisecond {
		t.Errorf("impatient caller: %v after %v", err, time.Since(start))
	}
	if err := <-patient; err != nil {
		t.Errorf("patient caller failed because another gave up: %v", err)
	}
	if c := e.emu.Count("/token"); c != 1 {
		t.Errorf("%d exchanges", c)
	}

	// Already-cancelled ctx: no exchange at all.
	ts2 := e.c.Tokens(mallory)
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := ts2.Token(done); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if c := e.emu.Count("/token"); c != 1 {
		t.Errorf("exchange made for a cancelled ctx (%d)", c)
	}
}

// When re-minting fails while the old token is still valid, the old one is served.
func TestTokenRefreshFailureKeepsValidToken(t *testing.T) {
	e := newEnv(t, nil, nil)
	ts := e.c.Tokens(alice)
	ctx := context.Background()
	old, _ := ts.Token(ctx)
	e.clk.Advance(50 * time.Minute) // past 80%, 10 minutes left
	e.emu.SetServiceApps(nil)       // exchange now refused
	got, err := ts.Token(ctx)
	if err != nil || got != old {
		t.Fatalf("got %v, %v; want the old token", got == old, err)
	}
	// The next attempt waits a quarter of the remaining 10 minutes.
	e.clk.Advance(time.Minute)
	if got, err := ts.Token(ctx); err != nil || got != old || e.emu.Count("/token") != 2 {
		t.Fatalf("retried the exchange too soon (%d exchanges, %v)", e.emu.Count("/token"), err)
	}
	// 55 min: less than 10% of the lifetime left, so the old token is no longer offered.
	e.clk.Advance(4 * time.Minute)
	_, err = ts.Token(ctx)
	if err == nil || !y360.IsPermanent(err) {
		t.Errorf("near expiry with failing exchange: %v", err)
	}
	e.errorMustNotLeak(t, err)
}
