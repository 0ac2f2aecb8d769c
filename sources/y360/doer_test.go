package y360_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources/y360"
)

func get(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "OAuth "+y360emu.DemoAdminToken)
	return req
}

func fastDoer(maxRetries int, opts ...y360.DoerOption) *y360.Doer {
	return y360.NewDoer(nil, -1, maxRetries, append([]y360.DoerOption{y360.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
}

func TestDoerRetriesTransientStatuses(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 504} {
		e := newEnv(t, nil, nil)
		e.emu.FailNext("/whoami", status, 2)
		var events []y360.RetryEvent
		d := fastDoer(3, y360.WithRetryHook(func(ev y360.RetryEvent) { events = append(events, ev) }))
		resp, err := d.Do(context.Background(), get(t, e.emu.URL()+"/whoami"))
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		resp.Body.Close()
		if n := e.emu.Count("/whoami"); n != 3 {
			t.Errorf("%d: %d requests, want 3", status, n)
		}
		if len(events) != 2 || events[1].Attempt != 2 || !strings.HasSuffix(events[0].Path, "/whoami") {
			t.Errorf("%d: retry events %+v", status, events)
		}
	}
}

func TestDoerDoesNotRetryPermanent(t *testing.T) {
	e := newEnv(t, nil, nil)
	for _, status := range []int{400, 403, 404, 409} {
		e.emu.ResetCounts()
		e.emu.FailNext("/whoami", status, 1)
		_, err := fastDoer(3).Do(context.Background(), get(t, e.emu.URL()+"/whoami"))
		var ae *y360.APIError
		if !errors.As(err, &ae) || ae.Status != status || e.emu.Count("/whoami") != 1 {
			t.Errorf("%d: err %v after %d requests", status, err, e.emu.Count("/whoami"))
		}
	}
}

func TestDoerGivesUp(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.ThrottleEvery("/whoami", "", 1)
	_, err := fastDoer(2).Do(context.Background(), get(t, e.emu.URL()+"/whoami"))
	if !y360.IsRateLimited(err) || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("err = %v", err)
	}
	if n := e.emu.Count("/whoami"); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	// DoOnce: a single attempt whatever maxRetries says.
	e.emu.ResetCounts()
	if _, err := fastDoer(5).DoOnce(context.Background(), get(t, e.emu.URL()+"/whoami")); !y360.IsRateLimited(err) || e.emu.Count("/whoami") != 1 {
		t.Errorf("DoOnce: %v, %d requests", err, e.emu.Count("/whoami"))
	}
	// maxRetries < 0: a single attempt.
	e.emu.ResetCounts()
	if _, err := fastDoer(-1).Do(context.Background(), get(t, e.emu.URL()+"/whoami")); !y360.IsRateLimited(err) || e.emu.Count("/whoami") != 1 {
		t.Errorf("no-retry doer: %v, %d requests", err, e.emu.Count("/whoami"))
	}
}

func TestDoerHonoursRetryAfter(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.Throttle("/whoami", "1", 1)
	start := time.Now()
	resp, err := fastDoer(3).Do(context.Background(), get(t, e.emu.URL()+"/whoami"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if el := time.Since(start); el < time.Second {
		t.Errorf("retried after %v, server asked for 1s", el)
	}
	hits := e.emu.Hits("/whoami")
	if len(hits) != 2 || hits[1].Time.Sub(hits[0].Time) < 990*time.Millisecond {
		t.Errorf("hits %v", hits)
	}

	// Retry-After larger than the cap is cut to the cap.
	e.emu.ResetCounts()
	e.emu.Throttle("/whoami", "3600", 1)
	start = time.Now()
	resp, err = fastDoer(3, y360.WithMaxRetryAfter(50*time.Millisecond)).Do(context.Background(), get(t, e.emu.URL()+"/whoami"))
	if err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("capped Retry-After: %v after %v", err, time.Since(start))
	}
	resp.Body.Close()
}

func TestDoerHostPauseSharedByConcurrentRequests(t *testing.T) {
	e := newEnv(t, nil, nil)
	paused := make(chan struct{}, 1)
	// The hook runs after the 429 paused the host and before the sleep.
	d := fastDoer(3, y360.WithRetryHook(func(y360.RetryEvent) { paused <- struct{}{} }))
	e.emu.Throttle("/whoami", "1", 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := d.Do(context.Background(), get(t, e.emu.URL()+"/whoami")); err != nil {
			t.Error(err)
		}
	}()
	<-paused
	start := time.Now()
	resp, err := d.Do(context.Background(), get(t, e.emu.URL()+"/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("second request went out after %v, during the host's Retry-After pause", el)
	}
	wg.Wait()
}

func TestDoerStopsWhenContextDone(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.ThrottleEvery("/whoami", "", 1)
	d := y360.NewDoer(nil, -1, 50, y360.WithBackoff(30*time.Millisecond, 30*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := d.Do(ctx, get(t, e.emu.URL()+"/whoami"))
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "last error") || !strings.Contains(err.Error(), "429") {
		t.Errorf("cancel error does not say why it was retrying: %v", err)
	}
	n := e.emu.Count("/whoami")
	time.Sleep(100 * time.Millisecond)
	if e.emu.Count("/whoami") != n || n > 10 {
		t.Errorf("requests after cancel: %d then %d", n, e.emu.Count("/whoami"))
	}

	// A deadline shorter than Retry-After: fail at once with the real cause.
	e.emu.ClearFaults()
	e.emu.Throttle("/whoami", "30", 1)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	start = time.Now()
	_, err = d.Do(ctx2, get(t, e.emu.URL()+"/whoami"))
	if !y360.IsRateLimited(err) || !strings.Contains(err.Error(), "no time left") || time.Since(start) > time.Second {
		t.Errorf("deadline case: %v after %v", err, time.Since(start))
	}

	// Already cancelled: nothing is sent.
	e.emu.ResetCounts()
	if _, err := d.Do(ctx, get(t, e.emu.URL()+"/whoami")); !errors.Is(err, context.Canceled) || e.emu.Count("/") != 0 {
		t.Errorf("cancelled ctx: %v, %d requests", err, e.emu.Count("/"))
	}
}

func TestDoerRetriesDroppedConnections(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.emu.AddFault(y360emu.Fault{PathPrefix: "/whoami", Drop: true, Next: 2})
	resp, err := fastDoer(3).Do(context.Background(), get(t, e.emu.URL()+"/whoami"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := e.emu.Count("/whoami"); n != 3 {
		t.Errorf("%d requests", n)
	}
	// Network error text names host+path, not the query.
	_, err = fastDoer(0).Do(context.Background(), get(t, "http://127.0.0.1:1/x?sig=SECRET"))
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "127.0.0.1:1/x") {
		t.Errorf("network error %v", err)
	}
}

func TestDoerReplaysOnlyReplayableBodies(t *testing.T) {
	e := newEnv(t, nil, nil)
	// io.NopCloser hides the reader's type, so http.NewRequest sets no GetBody.
	req, _ := http.NewRequest("POST", e.emu.URL()+"/introspect", io.NopCloser(strings.NewReader("token=x")))
	e.emu.FailNext("/introspect", 503, 1)
	if _, err := fastDoer(3).Do(context.Background(), req); err == nil || e.emu.Count("/introspect") != 1 {
		t.Errorf("non-replayable body retried: %v, %d requests", err, e.emu.Count("/introspect"))
	}
	// A strings.Reader body is replayed intact: the retried form still carries the token.
	tok := e.emu.MintToken("replay@demo.y360.test")
	req, _ = http.NewRequest("POST", e.emu.URL()+"/introspect", strings.NewReader("token="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.emu.FailNext("/introspect", 503, 2)
	resp, err := fastDoer(3).Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"active":true`) {
		t.Errorf("replayed body lost: %s", body)
	}
}

func TestDoerRateLimit(t *testing.T) {
	e := newEnv(t, nil, nil)
	const rps, n = 50, 75 // burst of 50, then 25 more at 20 ms each ≈ 0.5 s
	d := y360.NewDoer(nil, rps, 0)
	start := time.Now()
	for i := 0; i < n; i++ {
		resp, err := d.Do(context.Background(), get(t, e.emu.URL()+"/healthz"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	el := time.Since(start)
	if el < 450*time.Millisecond {
		t.Errorf("%d requests at %d rps took %v, want ≥ ~0.5s", n, rps, el)
	}
	t.Logf("%d requests at %d rps (burst %d): %v", n, rps, rps, el)
	// The token-bucket bound itself, at the server: request k (0-based) needs
	// token k+1, so it can arrive no earlier than (k+1-burst)/rate after the
	// bucket began (at or after start). A slow machine only makes requests
	// later; it cannot make this fail.
	hits := e.emu.Hits("/healthz")
	const slack = 2 * time.Millisecond // timer and clock granularity
	for k := rps; k < len(hits); k++ {
		min := time.Duration(k-rps+1) * time.Second / rps
		if got := hits[k].Time.Sub(start); got < min-slack {
			t.Errorf("request %d arrived %v after start, before the bucket allows (%v)", k, got, min)
			break
		}
	}
}

func TestDoAuthRemintsOnceOn401(t *testing.T) {
	e := newEnv(t, nil, nil)
	ts := e.c.Tokens(alice)
	d := e.c.Doer()
	whoami := func() (*http.Response, error) {
		req, _ := http.NewRequest("GET", e.emu.URL()+"/whoami", nil)
		return d.DoAuth(context.Background(), req, ts)
	}
	resp, err := whoami()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.emu.RevokeAllTokens() // the cached token now gets 401
	resp, err = whoami()
	if err != nil {
		t.Fatalf("after revoke: %v", err)
	}
	resp.Body.Close()
	if n := e.emu.Count("/token"); n != 2 {
		t.Errorf("%d exchanges, want 2", n)
	}
	// A user whose every token is refused: one re-mint, then the 401 is returned.
	e.emu.FailNext("/whoami", 401, 2)
	_, err = whoami()
	if !y360.IsUnauthorized(err) || e.emu.Count("/token") != 3 {
		t.Errorf("err %v, %d exchanges", err, e.emu.Count("/token"))
	}
	e.errorMustNotLeak(t, err)
}
