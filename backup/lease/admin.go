package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// exclusiveHeld returns a *HeldError naming the exclusive lock if it is live.
func exclusiveHeld(ctx context.Context, s sinks.Sink, o Options) error {
	ns, err := scanName(ctx, s, Exclusive)
	if err != nil {
		return fmt.Errorf("check exclusive lock: %w", err)
	}
	if ns.top == 0 || ns.epochs[ns.top].released {
		return nil
	}
	now := o.Clock()
	info, err := describe(ctx, s, ns, now, o.TTL)
	if err != nil {
		return fmt.Errorf("check exclusive lock: %w", err)
	}
	if info.State == Live {
		return &HeldError{Holders: []Info{info}, Now: now}
	}
	return nil
}

// maxReported bounds how many live leases AcquireExclusive reads claims of
// once it knows it must refuse.
const maxReported = 10

// liveLeases returns live leases other than the exclusive lock, sorted by
// name, stopping after maxReported.
func liveLeases(ctx context.Context, s sinks.Sink, o Options) ([]Info, error) {
	all, err := scanAll(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("check leases: %w", err)
	}
	var live []Info
	now := o.Clock()
	for _, name := range sortedNames(all) {
		ns := all[name]
		if name == Exclusive || ns.epochs[ns.top].released {
			continue // released needs no claim read
		}
		info, err := describe(ctx, s, ns, now, o.TTL)
		if err != nil {
			return nil, fmt.Errorf("check lease %s: %w", name, err)
		}
		if info.State == Live {
			live = append(live, info)
			if len(live) == maxReported {
				break
			}
		}
	}
	return live, nil
}

func sortedNames(all map[string]*nameScan) []string {
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// List describes every lease in the repository (including the exclusive
// lock), sorted by name: its top epoch, holder and state. State is judged
// with each claim's own TTL against the local clock.
func List(ctx context.Context, s sinks.Sink) ([]Info, error) {
	return list(ctx, s, time.Now())
}

func list(ctx context.Context, s sinks.Sink, now time.Time) ([]Info, error) {
	all, err := scanAll(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("lease: list: %w", err)
	}
	infos := make([]Info, 0, len(all))
	for _, name := range sortedNames(all) {
		info, err := describe(ctx, s, all[name], now, 0)
		if err != nil {
			return nil, fmt.Errorf("lease %s: list: %w", name, err)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// Break frees a lease whose holder is known to be dead (y360backup unlock):
// it writes the release marker of the lease's top epoch and deletes nothing,
// so a newer claim is never harmed. It returns the lease as it was before.
// A holder that is in fact alive reports its lease lost at its next refresh;
// until then it may overlap with a new holder, whose higher epoch fences it.
func Break(ctx context.Context, s sinks.Sink, name string) (Info, error) {
	if err := validTarget(name); err != nil {
		return Info{}, fmt.Errorf("lease %s: break: %w", name, err)
	}
	ns, err := scanName(ctx, s, name)
	if err != nil {
		return Info{}, fmt.Errorf("lease %s: break: %w", name, err)
	}
	if ns.top == 0 || !ns.epochs[ns.top].claim {
		// Never mark an epoch without a claim: its claim could still be
		// written by someone who would then find it released at once.
		return Info{}, fmt.Errorf("lease %s: break: %w", name, ErrNoLease)
	}
	now := time.Now()
	info, err := describe(ctx, s, ns, now, 0)
	if err != nil {
		return info, fmt.Errorf("lease %s: break: %w", name, err)
	}
	if info.State == Released {
		return info, nil
	}
	host, _ := os.Hostname()
	doc := markerDoc{Owner: fmt.Sprintf("break by %s pid %d", host, os.Getpid()), By: "break", At: now.UTC()}
	if err := putJSON(ctx, s, releasedKey(name, ns.top), doc); err != nil && !errors.Is(err, sinks.ErrExist) {
		return info, fmt.Errorf("lease %s: break epoch %d: %w", name, ns.top, err)
	}
	return info, nil
}
