package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// lossAfter is how long the holder keeps the lease without a confirmed
// refresh. Half the TTL leaves the other half as tolerance for clock skew
// between acquirers and the store (see the package doc, I3).
func (l *Lease) lossAfter() time.Duration { return l.o.TTL / 2 }

// deadline is when the lease is lost unless a refresh is confirmed first.
func (l *Lease) deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastOK.Add(l.lossAfter())
}

// checkDeadline loses the lease once lossAfter has passed since the last
// confirmed refresh, by the monotonic clock or by the wall clock: Linux's
// monotonic clock stops while the machine is suspended, the wall clock does
// not. A wall clock stepped forward can only make us give up early.
func (l *Lease) checkDeadline() {
	l.mu.Lock()
	last := l.lastOK
	l.mu.Unlock()
	now := time.Now()
	if now.Sub(last) < l.lossAfter() && now.Round(0).Sub(last.Round(0)) < l.lossAfter() {
		return
	}
	l.lose(fmt.Errorf("lease %s: %w: no successful refresh for %s (the TTL is %s)",
		l.name, ErrLost, now.Sub(last).Round(time.Millisecond), l.o.TTL), false)
}

// run refreshes every Refresh until halted or lost. Each refresh may take
// until the deadline and no longer, so a hung store cannot keep us past it.
func (l *Lease) run() {
	defer close(l.done)
	for {
		t := time.NewTimer(min(l.o.Refresh, time.Until(l.deadline())))
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		l.checkDeadline()
		if isClosed(l.lost) {
			return
		}
		deadline := l.deadline()
		ctx, cancel := context.WithDeadline(l.ctx, deadline)
		err := l.refreshOnce(ctx)
		cancel()
		if isClosed(l.lost) {
			return
		}
		if err != nil && l.ctx.Err() == nil {
			l.o.Log("lease %s: refresh failed, will retry until %s: %v", l.name, deadline.Format(time.RFC3339), err)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// refreshOnce writes the next heartbeat, then checks that the lease is still
// ours. The heartbeat's start time becomes lastOK only if both succeed;
// older heartbeats are deleted only then, so the newest confirmed one stays.
func (l *Lease) refreshOnce(ctx context.Context) error {
	start := time.Now()
	seq := l.seq + 1
	key := hbKey(l.name, l.epoch, seq)
	doc := markerDoc{Owner: l.o.Owner, Seq: seq, At: l.o.Clock().UTC()}
	// ErrExist: an earlier attempt of this very Put landed (client retry);
	// nobody else writes our epoch's heartbeats.
	if err := putJSON(ctx, l.sink, key, doc); err != nil && !errors.Is(err, sinks.ErrExist) {
		return fmt.Errorf("lease %s: heartbeat: %w", l.name, err)
	}
	l.seq = seq
	l.hbs = append(l.hbs, key)
	ns, err := scanName(ctx, l.sink, l.name)
	if err != nil {
		return fmt.Errorf("lease %s: check: %w", l.name, err)
	}
	if err := l.check(ns, key); err != nil {
		return err
	}
	l.mu.Lock()
	l.lastOK = start
	l.mu.Unlock()
	for _, old := range l.hbs[:len(l.hbs)-1] {
		if err := l.sink.Delete(ctx, old); err != nil {
			l.o.Log("lease %s: delete old heartbeat: %v", l.name, err)
		}
	}
	l.hbs = l.hbs[len(l.hbs)-1:]
	return nil
}

// check judges a listing taken right after heartbeat key was written, and
// loses the lease if it is no longer ours.
func (l *Lease) check(ns *nameScan, key string) error {
	eo := ns.epochs[l.epoch]
	switch {
	case ns.top > l.epoch:
		l.lose(fmt.Errorf("lease %s: %w: epoch %d superseded by epoch %d", l.name, ErrLost, l.epoch, ns.top), true)
	case eo == nil || !eo.claim:
		// Deleted by hand. Our epoch may be claimed afresh, so it must not
		// get a release marker from us.
		l.lose(fmt.Errorf("lease %s: %w: claim of epoch %d is gone", l.name, ErrLost, l.epoch), true)
	case eo.released:
		l.lose(fmt.Errorf("lease %s: %w: epoch %d was released by someone else (y360backup unlock?)", l.name, ErrLost, l.epoch), false)
	default:
		mod, ok := eo.mod(key)
		if !ok {
			return fmt.Errorf("lease %s: check: heartbeat %s missing from the listing", l.name, key)
		}
		// A gap this long in the store's own timestamps means observers may
		// have seen the lease expired and taken a conflicting lock (the
		// exclusive one), which this name's listing cannot show. It catches
		// a holder that was frozen where no local clock could tell.
		if gap := mod.Sub(eo.newestBut(key)); gap >= l.lossAfter() {
			l.lose(fmt.Errorf("lease %s: %w: lapsed: heartbeats %s apart by the store's clock (limit %s)",
				l.name, ErrLost, gap.Round(time.Millisecond), l.lossAfter()), false)
		}
	}
	return l.Err()
}

// lose records the first reason the lease was lost and closes Lost().
// noMarker: Release must not write a release marker for our epoch.
func (l *Lease) lose(err error, noMarker bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr != nil || l.released {
		return
	}
	l.lostErr, l.noMarker = err, noMarker
	close(l.lost)
	l.o.Log("%v", err)
}

// halt stops the refresher and waits for it; the lease is not released.
func (l *Lease) halt() {
	l.stopOnce.Do(func() {
		close(l.stop)
		l.cancel()
	})
	<-l.done
}
