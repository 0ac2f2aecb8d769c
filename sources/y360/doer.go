package y360

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// Defaults of a Doer; see NewDoer and the With* options.
const (
	DefaultRPS           = 10
	DefaultMaxRetries    = 4
	DefaultMinBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
)

// Doer is the one HTTP path every call to Yandex goes through. It adds
// politeness (a token bucket per host), and retries what may succeed later:
// 429, 408, 5xx (500/502/503/504/509) and network errors, with exponential
// back-off plus jitter, honouring Retry-After (seconds or HTTP date). It never
// retries once ctx is done, gives up after 1+maxRetries attempts, and only
// retries requests whose body can be replayed (no body, or GetBody set, as
// http.NewRequest does for bytes/strings readers).
//
// A Doer is safe for concurrent use and meant to be shared by every goroutine
// talking to the same hosts, so the rate limit holds across them.
type Doer struct {
	hc            *http.Client
	rps           float64
	maxRetries    int
	minBackoff    time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	onRetry       func(RetryEvent)

	mu      sync.Mutex
	buckets map[string]*bucket // by URL host
}

// RetryEvent describes one retry a Doer is about to make, for callers that
// count or log them (the Doer itself never logs).
type RetryEvent struct {
	Method  string
	Path    string        // host+path, no query
	Attempt int           // 1 = the first retry
	Wait    time.Duration // sleep before the retry
	Err     error         // why the previous attempt failed
}

// DoerOption tunes a Doer.
type DoerOption func(*Doer)

// WithBackoff sets the first retry delay and the cap of the exponential back-off.
func WithBackoff(min, max time.Duration) DoerOption {
	return func(d *Doer) {
		if min > 0 {
			d.minBackoff = min
		}
		if max >= d.minBackoff {
			d.maxBackoff = max
		}
	}
}

// WithMaxRetryAfter caps how long a server's Retry-After may make us wait.
func WithMaxRetryAfter(max time.Duration) DoerOption {
	return func(d *Doer) {
		if max > 0 {
			d.maxRetryAfter = max
		}
	}
}

// WithRetryHook calls fn before every retry (from the requesting goroutine).
func WithRetryHook(fn func(RetryEvent)) DoerOption {
	return func(d *Doer) { d.onRetry = fn }
}

// NewDoer returns a Doer using hc (nil = a client with a 2-minute timeout).
// rps is the steady request rate allowed per host (burst = ceil(rps));
// rps <= 0 disables the limit. maxRetries < 0 means no retries.
func NewDoer(hc *http.Client, rps float64, maxRetries int, opts ...DoerOption) *Doer {
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	if maxRetries < 0 {
		maxRetries = 0
	}
	d := &Doer{
		hc:            hc,
		rps:           rps,
		maxRetries:    maxRetries,
		minBackoff:    DefaultMinBackoff,
		maxBackoff:    DefaultMaxBackoff,
		maxRetryAfter: DefaultMaxRetryAfter,
		buckets:       make(map[string]*bucket),
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// HTTPClient returns the underlying client, e.g. for requests that must
// bypass retries (a streaming upload whose body cannot be replayed still
// goes through Do; this is for tests and special cases).
func (d *Doer) HTTPClient() *http.Client { return d.hc }

// Do sends req under ctx (req's own context is replaced). A response with
// status < 400 is returned as is and the caller must close its body. Any
// status >= 400 that is final (not retryable, or retries exhausted) is
// returned as an *APIError with the body consumed; network failures are
// returned wrapped, naming method and host+path but never the query string.
func (d *Doer) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	return d.do(ctx, req, 1+d.maxRetries)
}

// DoOnce is Do without retries (still rate-limited and with the same error
// mapping), for requests that must not be repeated blindly, e.g. a Disk
// move whose first attempt may have been applied before the connection broke.
func (d *Doer) DoOnce(ctx context.Context, req *http.Request) (*http.Response, error) {
	return d.do(ctx, req, 1)
}

func (d *Doer) do(ctx context.Context, req *http.Request, attempts int) (*http.Response, error) {
	where := req.URL.Host + req.URL.EscapedPath()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("y360: %s %s: %w", req.Method, where, err)
	}
	if !replayable(req) {
		attempts = 1
	}
	b := d.bucket(req.URL.Host)
	var lastErr error
	for attempt := 0; ; attempt++ {
		if err := sleepCtx(ctx, b.reserve(time.Now())); err != nil {
			return nil, d.ctxErr(req, where, err, lastErr, attempt)
		}
		r, err := prepare(ctx, req, attempt)
		if err != nil {
			return nil, fmt.Errorf("y360: %s %s: replay body: %w", req.Method, where, err)
		}
		resp, err := d.hc.Do(r)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, d.ctxErr(req, where, ctx.Err(), lastErr, attempt+1)
			}
			lastErr = fmt.Errorf("y360: %s %s: %w", req.Method, where, stripURL(err))
			if !retryableNetErr(err) {
				return nil, lastErr
			}
		case resp.StatusCode < 400:
			return resp, nil
		default:
			apiErr := ParseError(resp)
			drainClose(resp.Body)
			if !apiErr.retryable() {
				return nil, apiErr
			}
			lastErr = apiErr
			wait = apiErr.RetryAfter
			if wait > d.maxRetryAfter {
				wait = d.maxRetryAfter
			}
			if wait > 0 {
				b.pause(time.Now().Add(wait))
			}
		}
		if attempt+1 >= attempts {
			if attempts == 1 {
				return nil, lastErr
			}
			return nil, fmt.Errorf("%w (gave up after %d attempts)", lastErr, attempts)
		}
		if wait <= 0 {
			wait = d.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			// Waiting would outlive the caller: fail now with the real cause.
			return nil, fmt.Errorf("%w (no time left to retry)", lastErr)
		}
		if d.onRetry != nil {
			d.onRetry(RetryEvent{Method: req.Method, Path: where, Attempt: attempt + 1, Wait: wait, Err: lastErr})
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, d.ctxErr(req, where, err, lastErr, attempt+1)
		}
	}
}

// DoAuth is Do with "Authorization: OAuth <token>" from ts. When the answer
// is 401 it invalidates that token and, if the body can be replayed, retries
// once with a freshly minted one.
func (d *Doer) DoAuth(ctx context.Context, req *http.Request, ts sources.TokenSource) (*http.Response, error) {
	for try := 0; ; try++ {
		tok, err := ts.Token(ctx)
		if err != nil {
			return nil, err
		}
		r, err := prepare(ctx, req, try)
		if err != nil {
			return nil, fmt.Errorf("y360: %s %s: replay body: %w", req.Method, req.URL.Host+req.URL.EscapedPath(), err)
		}
		r.Header.Set("Authorization", "OAuth "+tok)
		resp, err := d.Do(ctx, r)
		if err == nil || !IsUnauthorized(err) || try > 0 || !replayable(req) {
			return resp, err
		}
		ts.Invalidate(tok)
	}
}

func (d *Doer) bucket(host string) *bucket {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.buckets[host]
	if !ok {
		b = newBucket(d.rps, time.Now())
		d.buckets[host] = b
	}
	return b
}

// backoff returns the delay before retry number attempt+1 (sources.Backoff).
func (d *Doer) backoff(attempt int) time.Duration {
	return sources.Backoff(d.minBackoff, d.maxBackoff, attempt)
}

func (d *Doer) ctxErr(req *http.Request, where string, ctxErr, lastErr error, attempts int) error {
	if lastErr == nil {
		return fmt.Errorf("y360: %s %s: %w", req.Method, where, ctxErr)
	}
	return fmt.Errorf("y360: %s %s: %w after %d attempts; last error: %v", req.Method, where, ctxErr, attempts, lastErr)
}

// replayable reports whether req's body can be sent again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// prepare returns the request for one attempt: a clone bound to ctx, with a
// fresh body for every attempt after the first.
func prepare(ctx context.Context, req *http.Request, attempt int) (*http.Request, error) {
	r := req.Clone(ctx)
	if attempt > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

// stripURL removes the *url.Error wrapper, whose text repeats the full URL
// (download hrefs carry signed query strings).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryableNetErr: transport failures are worth retrying, except TLS
// certificate problems, which will not fix themselves.
func retryableNetErr(err error) bool {
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		certInvalid x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
	)
	return !errors.As(err, &unknownAuth) && !errors.As(err, &hostErr) &&
		!errors.As(err, &certInvalid) && !errors.As(err, &verifyErr)
}

// drainClose reads a little of what is left so the connection can be reused.
func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}

// parseRetryAfter understands both forms of Retry-After: delta seconds
// ("120", fractions tolerated) and an HTTP date. Absent or malformed → 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if !(secs > 0 && secs < 1e7) { // also rejects NaN
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
