package mail

import (
	"io"
	"net"
	"sync"
	"time"
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
type deadlineConn struct {
	net.Conn
	timeout time.Duration

	mu   sync.Mutex
	busy int
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
	if d.busy > 0 {
		d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	} else {
		d.Conn.SetReadDeadline(time.Time{})
	}
	d.mu.Unlock()
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	return d.Conn.Write(p)
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

// trackingReader remembers the error of the reader it wraps, so that a
// failed PutBody can be blamed on the IMAP side or on the store.
type trackingReader struct {
	r   io.Reader
	n   int64
	err error // first error other than io.EOF
	eof bool
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err == io.EOF {
		t.eof = true
	} else if err != nil && t.err == nil {
		t.err = err
	}
	return n, err
}
