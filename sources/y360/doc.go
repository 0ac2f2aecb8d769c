// Package y360 is the client of the Yandex 360 for Business organization API
// that the backup needs besides the data protocols themselves:
//
//   - Directory: ListUsers pages through GET /directory/v1/org/{orgId}/users
//     (1000 per page), decoding each page as a stream.
//   - Token exchange: a service application (an OAuth app the org owner listed
//     under Security → Service applications) trades its client id/secret plus a
//     user's uid (or email) for a 1-hour token of that user (RFC 8693 style,
//     docs/yandex-api.md §2). Client.Tokens(u) caches it per user, re-mints at
//     80% of its lifetime, lets concurrent callers share one exchange and
//     supports Invalidate after a 401.
//   - Service applications (owner-only): list, replace, clear, activate,
//     deactivate; and Whoami to inspect a token's login and scopes.
//
// Every HTTP call goes through a Doer: a token bucket per host plus bounded
// retries of 429/5xx/network errors with exponential back-off and jitter,
// honouring Retry-After. Doer is exported so sources/disk reuses the same
// politeness (and, via Client.Doer, the same rate limit).
//
// Errors from Yandex are *APIError values (HTTP status, api360 gRPC code, Disk
// or OAuth error name, message, Retry-After, and for token exchange a Hint for
// the administrator) with predicates IsRateLimited, IsNotFound,
// IsUnauthorized and IsPermanent; errors.Is(err, sources.ErrNotFound /
// sources.ErrUnauthorized) also works. No error text ever contains a token,
// a secret or a URL query string. The package never logs.
//
// Wire structures live in the api subpackage.
package y360
