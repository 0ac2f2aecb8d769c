// Package hostlimit is an http.RoundTripper that keeps the requests to each
// configured host under a budget (a token bucket: a steady rate plus a small
// burst) and makes every goroutine using that host back off together when
// the host answers 429 (or 503 with Retry-After): the Retry-After pause
// applies to the whole host, not only to the request that got it.
//
// It is how y360backup stays polite where no other layer limits requests:
// the OAuth token-exchange host gets its own hourly budget under the y360
// client's per-host limit, and CalDAV (whose client has no rate limit or
// 429 handling of its own) gets a rate and retries after Retry-After.
// Limits are keyed by host, optionally with a path prefix (the emulator
// serves every API on one host); requests matching no key pass straight through.
//
// The transport never logs; an optional observer sees every answer (host,
// status, time spent waiting) for metrics.
package hostlimit
