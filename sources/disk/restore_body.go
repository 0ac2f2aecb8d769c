package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// uploadBody is the body of one upload PUT: an item's stored bytes, read
// from the repository while the transport sends them (never whole in
// memory). Its last byte is held back until the repository reader has
// reported a clean end — the object verified against its hash — so a
// corrupt object never becomes a complete upload: the server sees the body
// break off and stores nothing. Time the transport spends between reads
// (blocked writing to the network) feeds the stall watchdog.
type uploadBody struct {
	mu     sync.Mutex // Close may come from another goroutine than Read
	rc     io.ReadCloser
	left   int64 // bytes not yet handed to the transport
	dog    *watchdog
	closed bool
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("read after close")
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	b.dog.pause()
	if b.left > 1 {
		if int64(len(p)) > b.left-1 {
			p = p[:b.left-1]
		}
		n, err := b.rc.Read(p)
		b.left -= int64(n)
		if err == io.EOF {
			err = fmt.Errorf("stored body ended %d bytes early: %w", b.left, io.ErrUnexpectedEOF)
		}
		if err == nil {
			b.dog.arm()
		}
		return n, err
	}
	// The last byte. The watchdog stays paused: waiting for the answer
	// (Yandex hashes big files first) is not a stall.
	c, err := lastByte(b.rc)
	if err != nil {
		return 0, err
	}
	p[0] = c
	b.left = 0
	return 1, nil
}

// lastByte reads the final byte of r and insists that r then ends cleanly
// (an error at the end is the repository's verdict on the whole object).
func lastByte(r io.Reader) (byte, error) {
	var one [1]byte
	var c byte
	got := false
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			if got {
				return 0, errors.New("stored body is longer than its recorded size")
			}
			c, got = one[0], true
		}
		switch {
		case err == io.EOF && got:
			return c, nil
		case err == io.EOF:
			return 0, fmt.Errorf("stored body ended 1 byte early: %w", io.ErrUnexpectedEOF)
		case err != nil:
			return 0, err
		}
	}
}

func (b *uploadBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.rc.Close()
}

// errStalled marks an upload cut because the connection took no bytes for
// Config.StallTimeout; it is retried with a fresh link.
var errStalled = errors.New("upload stalled")

// watchdog cancels an upload whose transport has not asked for more body
// for d. Reads from the repository do not count as stalls (pause/arm
// bracket them); neither does the wait for the answer after the last byte,
// which the client's response-header timeout bounds.
type watchdog struct {
	d      time.Duration
	cancel context.CancelFunc

	mu      sync.Mutex
	t       *time.Timer
	fired   bool
	stopped bool
}

// arm (re)starts the countdown.
func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped || w.d <= 0:
	case w.t == nil:
		w.t = time.AfterFunc(w.d, w.fire)
	default:
		w.t.Reset(w.d)
	}
}

// pause stops the countdown while we, not the network, are the slow side.
func (w *watchdog) pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Stop()
	}
}

func (w *watchdog) fire() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.fired = true
	w.mu.Unlock()
	w.cancel()
}

// stop ends the watch; it reports whether the watchdog had fired.
func (w *watchdog) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.t != nil {
		w.t.Stop()
	}
	return w.fired
}
