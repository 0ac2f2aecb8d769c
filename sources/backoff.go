package sources

import (
	"math/rand/v2"
	"time"
)

// Backoff is the delay before retry number attempt+1 (attempt counts from
// 0): min·2^attempt, capped at max, with "equal jitter" (half fixed, half
// random) so that workers that failed together do not come back together.
// The HTTP client's retries (sources/y360) and the IMAP connect retries
// (sources/mail) share it.
func Backoff(min, max time.Duration, attempt int) time.Duration {
	w := min
	for i := 0; i < attempt && w < max; i++ {
		w *= 2
	}
	if w > max {
		w = max
	}
	half := w / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}
