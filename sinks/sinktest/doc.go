// Package sinktest is the conformance suite every sinks.Sink implementation
// runs: a sink's own test calls Run with a constructor for fresh, empty sinks
// and adds only what is specific to it.
//
// The suite checks the contracts written on sinks.Sink: round trips, write-once
// (ErrExist, original intact), ErrNotExist for missing keys, lexical List with
// prefixes and callback errors, rejection of hostile keys, atomicity when the
// reader fails or ctx is cancelled, unknown sizes, a large object streamed
// with bounded memory, concurrent Puts of one key, and GetRange: exact bytes
// for ranges inside the object, ErrRange for those outside it, ErrNotExist
// for a missing key, and a multi-MiB object read back in ranges.
package sinktest
