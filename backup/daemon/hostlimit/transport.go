package hostlimit

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limit is the budget of one host.
type Limit struct {
	// Rate is the steady number of requests per second; <= 0 = unlimited
	// (Retry-After pauses still apply).
	Rate float64
	// Burst is how many requests may go at once after a quiet spell;
	// 0 = ceil(Rate), at least 1.
	Burst int
	// Retries is how many times a throttled answer (429, or 503 with
	// Retry-After) is retried here after the pause, when the request body
	// can be replayed. 0 hands the answer back to the caller, for clients
	// that retry themselves (the y360 Doer).
	Retries int
	// MaxPause caps how long one Retry-After may stop the host; 0 = 5 min.
	MaxPause time.Duration
}

// PerHour is a Limit of n requests per hour with a burst of at most 30
// (so any hour-long window sees at most n + burst requests).
func PerHour(n int) Limit {
	burst := min(30, max(1, n/30))
	return Limit{Rate: float64(n) / 3600, Burst: burst}
}

// Event describes one answer (or failure) for an observer.
type Event struct {
	Host      string        // the matching limit key (host, maybe with a path)
	Status    int           // 0 when no answer arrived
	Waited    time.Duration // time this attempt waited for the budget or a pause
	Throttled bool          // 429, or 503 with Retry-After
}

// Transport applies per-host Limits. It is safe for concurrent use; share
// one per process so the budget holds across every client using it.
type Transport struct {
	base    http.RoundTripper
	rules   []rule
	observe func(Event)
	now     func() time.Time

	mu    sync.Mutex
	hosts map[string]*bucket
}

type rule struct {
	key    string // as given to New
	host   string
	prefix string // path prefix, "/" for the whole host
	limit  Limit
}

// Option tunes a Transport.
type Option func(*Transport)

// WithObserver calls fn after every attempt (from the requesting goroutine).
func WithObserver(fn func(Event)) Option { return func(t *Transport) { t.observe = fn } }

// New returns a Transport sending through base (nil = http.DefaultTransport)
// and limiting what limits names. A key is a host as in URL.Host
// ("api.example:8443"), optionally followed by a path prefix
// ("oauth.example/token"), so one endpoint of a host can get a budget of
// its own; the longest matching key wins. See KeyOf.
func New(base http.RoundTripper, limits map[string]Limit, opts ...Option) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{base: base, hosts: map[string]*bucket{}, now: time.Now}
	for k, l := range limits {
		host, prefix, _ := strings.Cut(k, "/")
		t.rules = append(t.rules, rule{key: k, host: host, prefix: "/" + prefix, limit: l})
	}
	// Longest prefix first, so the most specific key matches.
	sort.Slice(t.rules, func(i, j int) bool { return len(t.rules[i].key) > len(t.rules[j].key) })
	for _, o := range opts {
		o(t)
	}
	return t
}

// KeyOf returns the limit key for a configured URL: its host and path
// ("https://oauth.yandex.ru/token" → "oauth.yandex.ru/token"); "" if unparsable.
func KeyOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Host + strings.TrimSuffix(u.Path, "/")
}

// Client returns an *http.Client using t (no overall timeout: waiting for
// the budget is bounded by the request's context instead).
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// bucketFor returns the bucket, limit and key of the rule matching u.
func (t *Transport) bucketFor(u *url.URL) (*bucket, Limit, string) {
	path := u.Path
	if path == "" {
		path = "/"
	}
	for _, r := range t.rules {
		if u.Host != r.host || !strings.HasPrefix(path, r.prefix) {
			continue
		}
		if r.prefix != "/" && len(path) > len(r.prefix) && path[len(r.prefix)] != '/' {
			continue // "/token" must not match "/tokens"
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		b := t.hosts[r.key]
		if b == nil {
			b = newBucket(r.limit, t.now())
			t.hosts[r.key] = b
		}
		return b, r.limit, r.key
	}
	return nil, Limit{}, ""
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, lim, host := t.bucketFor(req.URL)
	if b == nil {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		// Take a slot; if a 429 paused the host while we waited for it,
		// take a new slot after the pause, so the workers that were queued
		// come back one by one at the host's rate, not all at once.
		var wait time.Duration
		for {
			w := b.reserve(t.now())
			if err := sleep(ctx, w); err != nil {
				closeBody(req)
				return nil, err
			}
			wait += w
			if b.paused(t.now()) == 0 {
				break
			}
		}
		r := req
		if attempt > 0 {
			r = req.Clone(ctx)
			if req.GetBody != nil {
				body, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = body
			}
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			t.emit(Event{Host: host, Waited: wait})
			return nil, err
		}
		pause, throttled := throttle(resp, attempt, lim, t.now())
		if throttled {
			b.pause(t.now().Add(pause))
		}
		t.emit(Event{Host: host, Status: resp.StatusCode, Waited: wait, Throttled: throttled})
		if !throttled || attempt >= lim.Retries || !replayable(req) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

func (t *Transport) emit(e Event) {
	if t.observe != nil {
		t.observe(e)
	}
}

// throttle says whether resp asks us to slow down, and for how long.
func throttle(resp *http.Response, attempt int, lim Limit, now time.Time) (time.Duration, bool) {
	ra := parseRetryAfter(resp.Header.Get("Retry-After"), now)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
	case resp.StatusCode == http.StatusServiceUnavailable && ra > 0:
	default:
		return 0, false
	}
	if ra <= 0 { // no hint: 1 s, 2 s, 4 s ... up to 30 s
		ra = min(time.Second<<min(attempt, 5), 30*time.Second)
	}
	maxPause := lim.MaxPause
	if maxPause <= 0 {
		maxPause = 5 * time.Minute
	}
	return min(ra, maxPause), true
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// parseRetryAfter reads delta seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if !(secs > 0 && secs < 1e7) {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bucket is one host's token bucket plus its Retry-After pause.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	until  time.Time
}

func newBucket(l Limit, now time.Time) *bucket {
	burst := float64(l.Burst)
	if burst <= 0 {
		burst = math.Max(1, math.Ceil(l.Rate))
	}
	return &bucket{rate: l.Rate, burst: burst, tokens: burst, last: now}
}

// reserve takes a token and returns how long to wait before using it.
// Tokens go negative so later callers queue behind earlier ones. During a
// pause no tokens are handed out before its end, and the queue behind it is
// spaced at the rate from there.
func (b *bucket) reserve(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := now
	if start.Before(b.until) {
		start = b.until
	}
	if b.rate <= 0 {
		return start.Sub(now)
	}
	if el := start.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el*b.rate)
		b.last = start
	}
	b.tokens--
	wait := start.Sub(now)
	if b.tokens < 0 {
		// The deficit is measured from b.last, which may lie past start.
		wait = max(wait, b.last.Sub(now)+time.Duration(-b.tokens/b.rate*float64(time.Second)))
	}
	return wait
}

// paused returns how long the host is still paused at now.
func (b *bucket) paused(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.until) {
		return b.until.Sub(now)
	}
	return 0
}

// pause stops the host until t.
func (b *bucket) pause(t time.Time) {
	b.mu.Lock()
	if t.After(b.until) {
		b.until = t
	}
	b.mu.Unlock()
}
