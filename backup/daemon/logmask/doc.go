// Package logmask hides users' email addresses in logs (log.mask_emails):
// alice@example.com becomes a***@example.com, so an operator can still tell
// users apart by domain and first letter while the log no longer names them.
//
// It works by wrapping the logger's zapcore.Core, so no call site changes:
// the message and every string-like field (strings, errors, Stringers,
// arrays and objects) are scanned for addresses, including the
// percent-encoded form (alice%40example.com) found in CalDAV paths.
package logmask
