package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/y360backup/y360backup/backup/lease"
)

// Writers lease the (user bucket, source) pairs they back up (docs/
// repository.md "Several writers"): two processes never write the same user
// and source, a crashed writer's are free again after the lease TTL, and the
// lease epoch fences a frozen writer's late checkpoints below its
// successor's. Leases are per bucket of users, not per user, so that what a
// run writes for them is bounded by the bucket count (a lease costs a claim
// and a release marker), not by the size of the organization.

// leaseBuckets is the number of user buckets (by the first byte of the
// SHA-256 of the user ID, modulo): at most 32 leases per source per run,
// about 7 KB of claims and release markers whatever the organization size.
const leaseBuckets = 32

func leaseBucket(uid string) int { return int(sha256sum([]byte(uid))[0]) % leaseBuckets }

// ErrBusy means another writer holds a (user, source): this run leaves it
// to that writer and carries its newest state.
var ErrBusy = lease.ErrHeld

// leaseName is the lease of one (bucket, source).
func leaseName(bucket int, source string) string {
	return fmt.Sprintf("b/%02d/%s", bucket, sourceKey(source))
}

func (r *Repository) leaseOptions() lease.Options {
	return lease.Options{TTL: r.leaseTTL, Owner: r.owner}
}

// acquire takes the lease of the bucket of uid for source.
func (r *Repository) acquire(ctx context.Context, uid, source string) (*lease.Lease, error) {
	name := leaseName(leaseBucket(uid), source)
	l, err := lease.Acquire(ctx, r.sink, name, r.leaseOptions())
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	return l, nil
}

// withLease returns a context cancelled when l is lost, and its cancel.
func withLease(ctx context.Context, l *lease.Lease) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-l.Lost():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// releaseLease releases l, bounded in time: a failure only makes the next
// writer wait for the TTL.
func releaseLease(ctx context.Context, l *lease.Lease) {
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = l.Release(ctx)
}

// Leases lists every lease in the repository (y360backup unlock).
func (r *Repository) Leases(ctx context.Context) ([]lease.Info, error) {
	return lease.List(ctx, r.sink)
}

// BreakLease frees a lease whose holder is known to be dead.
func (r *Repository) BreakLease(ctx context.Context, name string) (lease.Info, error) {
	info, err := lease.Break(ctx, r.sink, name)
	if err != nil {
		return info, fmt.Errorf("repository: unlock %s: %w", name, err)
	}
	return info, nil
}
