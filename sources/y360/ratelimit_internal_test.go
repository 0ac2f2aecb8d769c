package y360

import (
	"testing"
	"time"
)

// Callers that queue during a Retry-After pause leave one by one at the rate
// once it ends, not all at the same instant.
func TestBucketPauseSpreadsQueuedCallers(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBucket(10, now)
	b.pause(now.Add(time.Second))
	var waits []time.Duration
	for i := 0; i < 5; i++ {
		waits = append(waits, b.reserve(now.Add(100*time.Millisecond)))
	}
	for i, w := range waits {
		want := 900*time.Millisecond + time.Duration(i)*100*time.Millisecond
		if d := w - want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("caller %d waits %v, want %v", i, w, want)
		}
	}
	// Long after the pause the bucket refills to its burst again.
	if w := b.reserve(now.Add(time.Minute)); w != 0 {
		t.Errorf("after refill: wait %v", w)
	}
}
