package y360

import (
	"context"
	"math"
	"sync"
	"time"
)

// bucket is a token bucket for one host: rate tokens per second, at most
// burst stored. A Retry-After from the host also pauses the whole bucket, so
// every goroutine sharing the host backs off together, not only the one that
// got the 429.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second; <= 0 means unlimited
	burst  float64
	tokens float64
	last   time.Time
	until  time.Time // no request before this instant (host asked us to wait)
}

func newBucket(rate float64, now time.Time) *bucket {
	burst := math.Max(1, math.Ceil(rate))
	return &bucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// reserve takes one token and returns how long the caller must wait before
// using it. Tokens go negative so later callers queue behind earlier ones;
// during a host-wide pause the schedule starts at the pause's end, so callers
// queued in the pause leave one by one at the rate, not all at once.
func (b *bucket) reserve(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rate <= 0 {
		if now.Before(b.until) {
			return b.until.Sub(now)
		}
		return 0
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
	b.tokens--
	at := b.last // tokens are counted as of b.last (the pause end, during a pause)
	if b.tokens < 0 {
		at = at.Add(time.Duration(-b.tokens / b.rate * float64(time.Second)))
	}
	if at.Before(b.until) {
		at = b.until
	}
	return max(0, at.Sub(now))
}

// pause stops the bucket from handing out tokens until t; after t one
// request may go at once and the rest follow at the rate.
func (b *bucket) pause(t time.Time) {
	b.mu.Lock()
	if t.After(b.until) {
		b.until = t
		if b.rate > 0 {
			b.last = t
			b.tokens = math.Min(b.tokens, 1)
		}
	}
	b.mu.Unlock()
}

// sleepCtx waits for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
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
