package mail

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// deadlineConn is the raw TCP connection under TLS and imapclient. It owns the
// read/write deadlines, because imapclient's own (30 s per response, none
// while idle) neither match Config.Timeout nor cover a server that never
// answers a command.
//
// The rule: while at least one command is outstanding (begin..end), every
// Read and Write must make progress within timeout; with nothing outstanding
// reads may block forever (the connection is just idle). Deadline calls from
// the layers above are ignored.
//
// A timeout is sticky: imapclient's decoder reads again after an error, and
// each new Read would otherwise wait another full timeout.
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu      sync.Mutex
	busy    int
	expired error // the first timeout; every later Read/Write returns it
}

func newDeadlineConn(c net.Conn, timeout time.Duration) *deadlineConn {
	return &deadlineConn{Conn: c, timeout: timeout}
}

// begin marks a command outstanding; it also arms the deadline of a Read
// that is already blocked waiting for the answer.
func (d *deadlineConn) begin() {
	d.mu.Lock()
	d.busy++
	d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	d.mu.Unlock()
}

// end marks a command complete.
func (d *deadlineConn) end() {
	d.mu.Lock()
	if d.busy > 0 {
		d.busy--
	}
	if d.busy == 0 {
		d.Conn.SetReadDeadline(time.Time{})
	}
	d.mu.Unlock()
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	d.mu.Lock()
	if err := d.expired; err != nil {
		d.mu.Unlock()
		return 0, err
	}
	if d.busy > 0 {
		d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	} else {
		d.Conn.SetReadDeadline(time.Time{})
	}
	d.mu.Unlock()
	n, err := d.Conn.Read(p)
	d.noteTimeout(err)
	return n, err
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	d.mu.Lock()
	err := d.expired
	d.mu.Unlock()
	if err != nil {
		return 0, err
	}
	d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	n, err := d.Conn.Write(p)
	d.noteTimeout(err)
	return n, err
}

func (d *deadlineConn) noteTimeout(err error) {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		d.mu.Lock()
		if d.expired == nil {
			d.expired = fmt.Errorf("no progress for %v: %w", d.timeout, err)
		}
		d.mu.Unlock()
	}
}

func (d *deadlineConn) SetDeadline(time.Time) error      { return nil }
func (d *deadlineConn) SetReadDeadline(time.Time) error  { return nil }
func (d *deadlineConn) SetWriteDeadline(time.Time) error { return nil }

// prefixConn replays bytes (a synthetic greeting, and anything the pre-login
// reader had buffered) before reading from the connection itself.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// trackingReader remembers the error of the literal it wraps, so that a
// failed PutBody can be blamed on the IMAP side or on the store. It also turns
// a literal that ends early into io.ErrUnexpectedEOF: imapclient reports a
// connection closed in the middle of a literal as a plain EOF, and the store
// must not mistake the truncated message for a complete one.
type trackingReader struct {
	r    io.Reader
	size int64 // announced literal size
	n    int64
	err  error // first error other than a complete io.EOF
	eof  bool
	// ended: the literal itself returned an error or EOF. imapclient's reader
	// goroutine then owns the connection again, so it must not be read more.
	ended bool
}

// Size is the literal's announced size, which Read enforces
// (sources.SizedReader).
func (t *trackingReader) Size() int64 { return t.size }

var _ sources.SizedReader = (*trackingReader)(nil)

func (t *trackingReader) Read(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil {
		t.ended = true
	}
	switch {
	case err == io.EOF && t.n != t.size:
		err = fmt.Errorf("message literal ended after %d of %d bytes: %w", t.n, t.size, io.ErrUnexpectedEOF)
		t.err = err
	case err == io.EOF:
		t.eof = true
	case err != nil:
		t.err = err
	}
	return n, err
}
