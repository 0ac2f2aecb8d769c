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

// run refreshes every Refresh until halted or lost. Each refresh may take
// until the deadline and no longer, so a hung store cannot keep us past it.
func (l *Lease) run() {
	defer close(l.done)
	for {
		deadline := l.deadline()
		t := time.NewTimer(min(l.o.Refresh, time.Until(deadline)))
		select {
		case <-l.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if !time.Now().Before(deadline) {
			l.lose(fmt.Errorf("lease %s: %w: no successful refresh for %s (the TTL is %s)",
				l.name, ErrLost, l.lossAfter(), l.o.TTL), false)
			return
		}
		ctx, cancel := context.WithDeadline(l.ctx, deadline)
		err := l.refreshOnce(ctx)
		cancel()
		select {
		case <-l.lost:
			return
		default:
		}
		if err != nil && l.ctx.Err() == nil {
			l.o.Log("lease %s: refresh failed, will retry until %s: %v", l.name, deadline.Format(time.RFC3339), err)
		}
	}
}

// refreshOnce writes the next heartbeat, then checks that the lease is still
// ours. The heartbeat's start time becomes lastOK only if both succeed.
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
	if l.prevHB != "" {
		if err := l.sink.Delete(ctx, l.prevHB); err != nil {
			l.o.Log("lease %s: delete previous heartbeat: %v", l.name, err)
		}
	}
	l.prevHB = key
	ns, err := scanName(ctx, l.sink, l.name)
	if err != nil {
		return fmt.Errorf("lease %s: check: %w", l.name, err)
	}
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
		l.mu.Lock()
		l.lastOK = start
		l.mu.Unlock()
		return nil
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
