// Package rangeio holds what every sink needs to implement GetRange the same
// way: the range check and a reader that refuses to end early.
package rangeio

import (
	"fmt"
	"io"
	"math"

	"github.com/y360backup/y360backup/sinks"
)

// Check validates a range against an object of size bytes (size < 0: not
// known yet, so only the signs are checked). The error wraps sinks.ErrRange
// and says why; the caller adds the key and the range.
func Check(offset, length, size int64) error {
	if offset < 0 || length < 0 {
		return fmt.Errorf("%w: negative offset or length", sinks.ErrRange)
	}
	if length > math.MaxInt64-offset { // no object is that large, and offset+length would wrap
		return fmt.Errorf("%w: the range ends past 2^63 bytes", sinks.ErrRange)
	}
	if size >= 0 && (offset > size || length > size-offset) {
		return fmt.Errorf("%w: the object has %d bytes", sinks.ErrRange, size)
	}
	return nil
}

// Exact returns a reader of exactly n bytes of rc. It stops after n bytes
// without reading further, and turns an early end of rc into an error
// wrapping io.ErrUnexpectedEOF, so a truncated body or a file that shrank
// cannot pass for a short but complete range. what prefixes its errors
// ("s3: get range k [0,+10)"). Closing it closes rc.
func Exact(rc io.ReadCloser, n int64, what string) io.ReadCloser {
	return &exact{rc: rc, left: n, want: n, what: what}
}

type exact struct {
	rc         io.ReadCloser
	left, want int64
	what       string
	err        error // sticky: once failed, every Read fails the same way
}

func (e *exact) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.rc.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		return n, nil // complete, whatever rc says; the next Read gives io.EOF
	case err == io.EOF:
		e.err = fmt.Errorf("%s: object ended after %d of %d bytes: %w", e.what, e.want-e.left, e.want, io.ErrUnexpectedEOF)
	case err != nil:
		e.err = fmt.Errorf("%s: after %d of %d bytes: %w", e.what, e.want-e.left, e.want, err)
	}
	return n, e.err
}

func (e *exact) Close() error { return e.rc.Close() }
