package lease

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrHeld is wrapped by Acquire and AcquireExclusive errors when someone
	// else holds the lease (or, for the exclusive lock, any lease); the error
	// is a *HeldError that names the holders.
	ErrHeld = errors.New("lease is held")
	// ErrLost is wrapped by Err() of a lease that was superseded, broken or
	// could not be refreshed in time. Its holder must stop working.
	ErrLost = errors.New("lease lost")
	// ErrReleased is Err() of a lease after Release.
	ErrReleased = errors.New("lease released")
	// ErrNoLease is wrapped by Break for a name that has no claim.
	ErrNoLease = errors.New("no such lease")
)

// HeldError says who holds what an acquirer wanted.
type HeldError struct {
	// Holders are the live leases in the way: the wanted lease's holder, the
	// exclusive lock, or (for AcquireExclusive) the first few live leases.
	// Empty when a concurrent acquirer won and could not be described.
	Holders []Info
	// Now is the acquirer's clock when it judged, for "ago" and "in".
	Now time.Time
	// Detail replaces the description when Holders is empty.
	Detail string
}

func (e *HeldError) Unwrap() error { return ErrHeld }

func (e *HeldError) Error() string {
	if len(e.Holders) == 0 {
		return fmt.Sprintf("%v: %s", ErrHeld, e.Detail)
	}
	const show = 3
	parts := make([]string, 0, show+1)
	for i, h := range e.Holders {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Holders)-show))
			break
		}
		parts = append(parts, describeHolder(h, e.Now))
	}
	return fmt.Sprintf("%v: %s", ErrHeld, strings.Join(parts, "; "))
}

// describeHolder: "u/1/mail epoch 7 by owner 3fa2 (host h, pid 12) since
// 2026-01-02T03:04:05Z, last heartbeat 1.2s ago, expires in 3.8s unless
// refreshed".
func describeHolder(h Info, now time.Time) string {
	owner := h.Owner
	if owner == "" {
		owner = "? (claim unreadable)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s epoch %d by owner %s", h.Name, h.Epoch, owner)
	if h.Host != "" || h.PID != 0 {
		fmt.Fprintf(&b, " (host %s, pid %d)", h.Host, h.PID)
	}
	if !h.Started.IsZero() {
		fmt.Fprintf(&b, " since %s", h.Started.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, ", last heartbeat %s ago, expires in %s unless refreshed",
		now.Sub(h.LastHeartbeat).Round(time.Millisecond), h.Expires.Sub(now).Round(time.Millisecond))
	return b.String()
}
