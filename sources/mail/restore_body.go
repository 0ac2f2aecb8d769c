package mail

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/y360backup/y360backup/sources"
)

// An APPEND literal announces its size before the first byte, and once begun
// it can only be completed or the connection dropped. The repository verifies
// a body's hash only when it has been read to its end, so a corrupt or
// truncated object must be detected before the literal's last byte goes out:
// storedBody sends one chunk behind what it has read, and the last chunk only
// after the reader ended cleanly with exactly the announced size. A message
// that fits in the first chunk (most do) is verified whole before its APPEND
// is even sent. Memory: two chunks per message in flight, whatever its size.

const bodyChunk = 64 << 10

// storedBody is an item's stored bytes on their way into an APPEND literal.
type storedBody struct {
	rc    io.ReadCloser
	size  int64
	cur   []byte // read, not yet sent
	spare []byte
	eof   bool  // the reader ended cleanly after cur
	n     int64 // bytes read so far
}

// chunks are the two buffers of a storedBody, reused from message to
// message (one body streams at a time).
type chunks [2][]byte

func (c *chunks) get() ([]byte, []byte) {
	if c[0] == nil {
		c[0], c[1] = make([]byte, bodyChunk), make([]byte, bodyChunk)
	}
	return c[0], c[1]
}

// openBody opens the stored body and reads its first chunk into bufs.
func openBody(ctx context.Context, it sources.RestoreItem, bufs *chunks) (*storedBody, error) {
	if it.Open == nil {
		return nil, errors.New("no stored body")
	}
	rc, err := it.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stored body: %w", err)
	}
	buf, spare := bufs.get()
	b := &storedBody{rc: rc, size: it.Size, spare: spare}
	n, eof, err := readChunk(rc, buf)
	b.cur, b.eof, b.n = buf[:n], eof, int64(n)
	if err == nil {
		err = b.check()
	}
	if err != nil {
		rc.Close()
		return nil, err
	}
	return b, nil
}

func (b *storedBody) close() { b.rc.Close() }

// check compares what was read with the recorded size.
func (b *storedBody) check() error {
	if b.n > b.size || (b.eof && b.n != b.size) {
		return fmt.Errorf("stored body has %d bytes or more, the index says %d", b.n, b.size)
	}
	return nil
}

// sendTo writes the whole body to w, holding the last chunk back until the
// reader has ended cleanly. An error of w is returned as it is; any other
// error means the source failed and the literal must be abandoned.
func (b *storedBody) sendTo(w io.Writer) error {
	for !b.eof {
		m, eof, err := readChunk(b.rc, b.spare)
		if err != nil {
			return &sourceError{fmt.Errorf("read stored body: %w", err)}
		}
		b.n += int64(m)
		if err := b.check(); err != nil {
			return &sourceError{err}
		}
		if _, err := w.Write(b.cur); err != nil {
			return err
		}
		b.cur, b.spare = b.spare[:m], b.cur[:cap(b.cur)]
		b.eof = eof
	}
	if b.n != b.size {
		return &sourceError{fmt.Errorf("stored body has %d bytes, the index says %d", b.n, b.size)}
	}
	_, err := w.Write(b.cur)
	return err
}

// sourceError is a failure of the repository side while a body streams.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// readChunk reads into p until it is full or r ends (eof).
func readChunk(r io.Reader, p []byte) (n int, eof bool, err error) {
	for zero := 0; n < len(p); {
		m, err := r.Read(p[n:])
		n += m
		switch {
		case err == io.EOF:
			return n, true, nil
		case err != nil:
			return n, false, err
		case m == 0:
			if zero++; zero > 100 {
				return n, false, io.ErrNoProgress
			}
		}
	}
	return n, false, nil
}
