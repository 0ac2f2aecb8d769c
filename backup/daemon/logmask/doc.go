// Package logmask hides users' email addresses in logs (log.mask_emails):
// alice@example.com becomes a stable pseudonym such as
// a[5d41402abc]@example.com (first letter, a keyed hash of the address, the
// domain), so an operator can still tell users apart, and follow one user
// across lines and runs, while the log no longer names them.
//
// The hash is an HMAC under a key the operator holds (the CLI uses the
// organization's client secret): without it, hashing a list of candidate
// addresses does not reveal who a pseudonym is.
//
// It works by wrapping the logger's zapcore.Core, so no call site changes:
// the message and every string-like field (strings, errors, Stringers,
// arrays and objects) are scanned for addresses, including the
// percent-encoded form (alice%40example.com) found in CalDAV paths.
package logmask
