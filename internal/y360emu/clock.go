package y360emu

import (
	"sync"
	"time"
)

// FakeClock is a manually advanced clock for tests. Pass its Now as
// Options.Now here and as y360.Config.Now to the client so both sides agree
// on token expiry.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock starts a clock at t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
