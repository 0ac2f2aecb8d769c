package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// DefaultTTL is how long a lease stays live without a heartbeat.
const DefaultTTL = 5 * time.Minute

// Options tune a lease; the zero value gives the defaults.
type Options struct {
	// TTL: a lease whose newest claim or heartbeat is older is free. The
	// holder gives up after TTL/2 without a successful refresh. Default
	// DefaultTTL.
	TTL time.Duration
	// Refresh is the heartbeat interval, at most TTL/3 so that a failed
	// refresh is retried before the holder gives up. Default TTL/5.
	Refresh time.Duration
	// Clock is the wall clock compared with the store's ModTimes when
	// judging other holders, and stamped into claims. The holder's own
	// schedule runs on real timers. Default time.Now.
	Clock func() time.Time
	// Owner identifies the holder in claims; default: a random id per process.
	Owner string
	// Log receives what the lease cannot return: failed refreshes (retried),
	// loss, failed garbage collection. Default: discard.
	Log func(format string, args ...any)
}

var processOwner = sync.OnceValue(func() string { return randomHex(8) })

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics instead on a broken system)
	return hex.EncodeToString(b)
}

func (o Options) withDefaults() (Options, error) {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Refresh == 0 {
		o.Refresh = o.TTL / 5
	}
	if o.TTL < 0 || o.Refresh <= 0 || o.Refresh > o.TTL/3 {
		return o, fmt.Errorf("lease options: TTL %s, refresh %s: want a positive TTL and 0 < refresh <= TTL/3", o.TTL, o.Refresh)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Owner == "" {
		o.Owner = processOwner()
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	return o, nil
}

// Lease is a held lease. Its methods are safe for concurrent use.
type Lease struct {
	sink  sinks.Sink
	name  string
	epoch uint64
	o     Options

	lost     chan struct{} // closed on loss
	stop     chan struct{} // closed to stop the refresher
	stopOnce sync.Once
	done     chan struct{} // closed when the refresher has returned
	ctx      context.Context
	cancel   context.CancelFunc

	// Owned by the refresher goroutine (or by a test after halt).
	seq uint64
	hbs []string // heartbeats written and not yet deleted, oldest first

	mu       sync.Mutex
	lastOK   time.Time // start of the last confirmed heartbeat Put (monotonic)
	lostErr  error
	noMarker bool // superseded or claim gone: a release marker would be garbage, or harmful
	released bool // Release was called
	marked   bool // our release marker exists
}

// Name returns the lease's name (Exclusive for the exclusive lock).
func (l *Lease) Name() string { return l.name }

// Epoch returns the fencing epoch: strictly greater than every earlier
// holder's of this name. Put it into the names of objects written under the
// lease so that a superseded holder's late writes rank below its successor's.
func (l *Lease) Epoch() uint64 { return l.epoch }

// Lost is closed when the lease is lost (not on Release); Err says why.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err is nil while the lease is held, wraps ErrLost once it is lost, and is
// ErrReleased after Release. It checks the refresh deadline itself, so a
// holder that wakes up from a freeze sees the loss before its refresher
// does: call it before every write that commits work done under the lease.
func (l *Lease) Err() error {
	if !l.isReleased() {
		l.checkDeadline()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.lostErr != nil:
		return l.lostErr
	case l.released:
		return ErrReleased
	}
	return nil
}

func (l *Lease) isReleased() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.released
}

// Acquire takes the lease name, or fails with an error wrapping ErrHeld
// (a *HeldError) while it or the exclusive lock is live. The lease refreshes
// itself until Release or until it is lost. See the package doc.
func Acquire(ctx context.Context, s sinks.Sink, name string, o Options) (*Lease, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("lease %s: acquire: %w", name, err)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("lease %s: acquire: %w", name, err)
	}
	// Early exit only: the check after our claim exists is what excludes.
	if err := exclusiveHeld(ctx, s, o); err != nil {
		return nil, fmt.Errorf("lease %s: acquire: %w", name, err)
	}
	l, err := claim(ctx, s, name, o)
	if err != nil {
		return nil, fmt.Errorf("lease %s: acquire: %w", name, err)
	}
	if err := exclusiveHeld(ctx, s, o); err != nil {
		l.backOff(ctx)
		return nil, fmt.Errorf("lease %s: acquire: after claiming epoch %d: %w", name, l.epoch, err)
	}
	if err := l.Err(); err != nil { // lost while acquiring: slow store
		l.backOff(ctx)
		return nil, fmt.Errorf("%w (while acquiring)", err)
	}
	return l, nil
}

// AcquireExclusive takes the exclusive lock, or fails with an error wrapping
// ErrHeld while it or any other lease is live.
func AcquireExclusive(ctx context.Context, s sinks.Sink, o Options) (*Lease, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("lease %s: acquire: %w", Exclusive, err)
	}
	l, err := claim(ctx, s, Exclusive, o)
	if err != nil {
		return nil, fmt.Errorf("lease %s: acquire: %w", Exclusive, err)
	}
	// Now that our claim exists, any lease acquired from here on sees it and
	// backs off, so leases we do not see below cannot run beside us.
	live, err := liveLeases(ctx, s, o)
	if err == nil && len(live) > 0 {
		err = &HeldError{Holders: live, Now: o.Clock()}
	}
	if err != nil {
		l.backOff(ctx)
		return nil, fmt.Errorf("lease %s: acquire: after claiming epoch %d: %w", Exclusive, l.epoch, err)
	}
	if err := l.Err(); err != nil {
		l.backOff(ctx)
		return nil, fmt.Errorf("%w (while acquiring)", err)
	}
	return l, nil
}

// claim runs steps 2-4 of the protocol for name and returns the confirmed,
// refreshing lease.
func claim(ctx context.Context, s sinks.Sink, name string, o Options) (*Lease, error) {
	ns, err := scanName(ctx, s, name)
	if err != nil {
		return nil, err
	}
	if ns.top > 0 {
		now := o.Clock()
		info, err := describe(ctx, s, ns, now, o.TTL)
		if err != nil {
			return nil, err
		}
		if info.State == Live {
			return nil, &HeldError{Holders: []Info{info}, Now: now}
		}
	}
	if ns.top == math.MaxUint64 {
		return nil, errors.New("epochs exhausted")
	}
	epoch := ns.top + 1
	host, _ := os.Hostname()
	doc := claimDoc{Owner: o.Owner, Nonce: randomHex(8), Host: host, PID: os.Getpid(),
		Started: o.Clock().UTC(), TTLms: o.TTL.Milliseconds()}
	start := time.Now()
	err = putJSON(ctx, s, claimKey(name, epoch), doc)
	if errors.Is(err, sinks.ErrExist) && !ownClaim(ctx, s, name, epoch, doc.Nonce) {
		return nil, lostRace(ctx, s, name, epoch, o)
	}
	if err != nil && !errors.Is(err, sinks.ErrExist) {
		// The claim may have landed anyway; it expires after the TTL. Writing
		// a release marker for an epoch we may not own could free someone
		// else's claim, so leave it.
		return nil, fmt.Errorf("write claim %d: %w", epoch, err)
	}
	l := newLease(s, name, epoch, o, start)
	if err := l.confirm(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// ownClaim tells whether the claim that made our Put fail with ErrExist is our
// own, landed by an earlier attempt that a client retried.
func ownClaim(ctx context.Context, s sinks.Sink, name string, epoch uint64, nonce string) bool {
	c, err := readClaim(ctx, s, claimKey(name, epoch))
	return err == nil && c.Nonce == nonce
}

// lostRace builds the error for a Put that a concurrent acquirer beat.
func lostRace(ctx context.Context, s sinks.Sink, name string, epoch uint64, o Options) error {
	he := &HeldError{Now: o.Clock(), Detail: fmt.Sprintf("another acquirer claimed epoch %d first", epoch)}
	if ns, err := scanName(ctx, s, name); err == nil && ns.top > 0 {
		if info, err := describe(ctx, s, ns, he.Now, o.TTL); err == nil {
			he.Holders = []Info{info}
		}
	}
	return he
}

func newLease(s sinks.Sink, name string, epoch uint64, o Options, start time.Time) *Lease {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lease{sink: s, name: name, epoch: epoch, o: o, lastOK: start,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel}
	go l.run()
	return l
}

// confirm is step 4: make sure no higher epoch appeared, then collect the
// garbage of older epochs.
func (l *Lease) confirm(ctx context.Context) error {
	ns, err := scanName(ctx, l.sink, l.name)
	if err != nil {
		l.backOff(ctx) // we own the claim, so releasing it is safe
		return fmt.Errorf("confirm claim %d: %w", l.epoch, err)
	}
	if ns.top > l.epoch {
		l.abandon(ctx)
		now := l.o.Clock()
		he := &HeldError{Now: now, Detail: fmt.Sprintf("epoch %d appeared above our claim %d", ns.top, l.epoch)}
		if info, err := describe(ctx, l.sink, ns, now, l.o.TTL); err == nil {
			he.Holders = []Info{info}
		}
		return he
	}
	for epoch, eo := range ns.epochs {
		if epoch < l.epoch {
			l.deleteEpoch(ctx, epoch, eo)
		}
	}
	return nil
}

// deleteEpoch removes an older epoch's objects, the claim last so that a
// partial deletion leaves a claim rather than a marker without one.
func (l *Lease) deleteEpoch(ctx context.Context, epoch uint64, eo *epochObjs) {
	claim := claimKey(l.name, epoch)
	for _, o := range eo.objs {
		if o.key == claim {
			continue
		}
		if err := l.sink.Delete(ctx, o.key); err != nil {
			l.o.Log("lease %s: delete old %s: %v", l.name, o.key, err)
			return
		}
	}
	if eo.claim {
		if err := l.sink.Delete(ctx, claim); err != nil {
			l.o.Log("lease %s: delete old %s: %v", l.name, claim, err)
		}
	}
}

// abandon drops a claim that a higher epoch has superseded; deleting it is
// safe because the higher claim keeps epochs monotonic (I1).
func (l *Lease) abandon(ctx context.Context) {
	l.lose(fmt.Errorf("lease %s: %w: superseded before it was confirmed", l.name, ErrLost), true)
	l.halt()
	ctx, cancel := cleanupCtx(ctx, l.o)
	defer cancel()
	if err := l.sink.Delete(ctx, claimKey(l.name, l.epoch)); err != nil {
		l.o.Log("lease %s: delete superseded claim %d: %v", l.name, l.epoch, err)
	}
}

// backOff gives up a claim we own that must not be used.
func (l *Lease) backOff(ctx context.Context) {
	ctx, cancel := cleanupCtx(ctx, l.o)
	defer cancel()
	if err := l.Release(ctx); err != nil {
		l.o.Log("lease %s: back off: %v (the claim expires after %s)", l.name, err, l.o.TTL)
	}
}

// cleanupCtx outlives a cancelled ctx, for a bounded time: undoing a claim
// matters most when the caller gave up, since a claim left behind blocks
// everyone for a whole TTL.
func cleanupCtx(ctx context.Context, o Options) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), o.TTL/2)
}

// Release stops refreshing and writes the release marker, so others need not
// wait for the TTL. It keeps the claim (epochs stay monotonic). After a
// successful Release, or after the lease was superseded, it does nothing; a
// failed one may be retried.
func (l *Lease) Release(ctx context.Context) error {
	l.halt()
	l.mu.Lock()
	l.released = true
	skip := l.noMarker || l.marked
	l.mu.Unlock()
	if skip {
		return nil
	}
	// A marker must never precede its claim: if the claim was deleted by
	// hand, the epoch could be claimed afresh and be released at once.
	switch _, err := l.sink.Stat(ctx, claimKey(l.name, l.epoch)); {
	case errors.Is(err, sinks.ErrNotExist):
		l.o.Log("lease %s: release: claim of epoch %d is gone, no marker written", l.name, l.epoch)
		return nil
	case err != nil:
		return fmt.Errorf("lease %s: release epoch %d: %w", l.name, l.epoch, err)
	}
	doc := markerDoc{Owner: l.o.Owner, By: "holder", At: l.o.Clock().UTC()}
	if err := putJSON(ctx, l.sink, releasedKey(l.name, l.epoch), doc); err != nil && !errors.Is(err, sinks.ErrExist) {
		return fmt.Errorf("lease %s: release epoch %d: %w", l.name, l.epoch, err)
	}
	l.mu.Lock()
	l.marked = true
	l.mu.Unlock()
	return nil
}
