package backup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup/lease"
	"github.com/y360backup/y360backup/sources"
)

// runState is what one run knows about where each (user, source) resumes,
// and which stores it opened (their checkpoints are dropped once the run's
// snapshot supersedes them).
type runState struct {
	prev  map[string]*UserSnapshot // user ID → entry in the newest snapshot at start
	ckpts *checkpointSet
	log   *zap.Logger

	mu     sync.Mutex
	stores map[string]*userStore // uid + "\x00" + source
	leases map[string]*runLease  // leaseName → this run's use of it
}

// usersByID indexes a snapshot's users, so that starting each (user,
// source) does not scan them all.
func usersByID(s *Snapshot) map[string]*UserSnapshot {
	m := map[string]*UserSnapshot{}
	if s != nil {
		for i := range s.Users {
			m[s.Users[i].ID] = &s.Users[i]
		}
	}
	return m
}

// runLease is one (bucket, source) lease as a run uses it: taken when the
// first of its users starts, released once the last one's state is durable.
type runLease struct {
	once    sync.Once
	l       *lease.Lease
	err     error // ErrBusy: another writer has it
	pending int   // users of this run in the bucket not finished yet
	stores  []*userStore
}

// plan counts the users of each (bucket, source) so a lease is released
// once all of them are done. It may be called more than once (the
// organization's pseudo-user has its own sources).
func (rs *runState) plan(users []sources.User, srcs []sources.Source) {
	if rs.leases == nil {
		rs.leases = map[string]*runLease{}
	}
	for _, u := range users {
		for _, src := range srcs {
			name := leaseName(leaseBucket(u.ID), src.Name())
			if rs.leases[name] == nil {
				rs.leases[name] = &runLease{}
			}
			rs.leases[name].pending++
		}
	}
}

// lease returns the (bucket, source) lease for uid, acquiring it on first use.
func (rs *runState) lease(ctx context.Context, r *Repository, uid, source string) (*runLease, error) {
	rs.mu.Lock()
	rl := rs.leases[leaseName(leaseBucket(uid), source)]
	rs.mu.Unlock()
	if rl == nil {
		return nil, fmt.Errorf("internal error: no lease planned for %s", source)
	}
	rl.once.Do(func() {
		rl.l, rl.err = r.acquire(ctx, uid, source)
		if rl.err == nil {
			rs.log.Debug("lease acquired", zap.String("lease", rl.l.Name()), zap.Uint64("epoch", rl.l.Epoch()))
		}
	})
	return rl, rl.err
}

// done records that one user of rl finished its source.
func (rs *runState) done(rl *runLease, st *userStore) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rl.pending--
	if st != nil {
		rl.stores = append(rl.stores, st)
	}
}

// releaseIdle releases the leases whose users are all finished and durable.
func (rs *runState) releaseIdle(ctx context.Context) {
	rs.mu.Lock()
	var idle []*lease.Lease
	for name, rl := range rs.leases {
		if rl.l == nil || rl.pending > 0 {
			continue
		}
		durable := true
		for _, st := range rl.stores {
			st.mu.Lock()
			durable = durable && st.durable
			st.mu.Unlock()
		}
		if durable {
			idle = append(idle, rl.l)
			delete(rs.leases, name)
		}
	}
	rs.mu.Unlock()
	for _, l := range idle {
		rs.release(ctx, l)
	}
}

// open starts a (user, source) store at the newest durable state.
func (rs *runState) open(ctx context.Context, r *Repository, uid, source, run string, l *lease.Lease) *userStore {
	var prev *SourceSnapshot
	if u := rs.prev[uid]; u != nil {
		prev = u.Sources[source]
	}
	heads, ver := r.startState(ctx, uid, source, prev, rs.ckpts)
	st := r.openUserStore(uid, source, run, heads)
	st.start, st.lease, st.epoch = ver, l, l.Epoch()
	r.track(st)
	rs.mu.Lock()
	rs.stores[uid+"\x00"+source] = st
	rs.mu.Unlock()
	return st
}

// dropSuperseded deletes the checkpoints the written snapshot supersedes
// and stops checkpointing this run's stores.
func (rs *runState) dropSuperseded(ctx context.Context, r *Repository, snap *Snapshot) {
	rs.mu.Lock()
	for _, st := range rs.stores {
		r.untrack(st)
	}
	rs.mu.Unlock()
	r.dropCheckpoints(ctx, snap, rs.ckpts)
}

// releaseAll releases every lease this run still holds (a failed final
// checkpoint, an interrupted run): the next writer resumes from the last
// durable state.
func (rs *runState) releaseAll(ctx context.Context, r *Repository) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, st := range rs.stores {
		r.untrack(st)
	}
	for _, rl := range rs.leases {
		rs.release(ctx, rl.l)
	}
	rs.leases = nil
}

// release releases l (logged first: from then on another writer may hold it).
func (rs *runState) release(ctx context.Context, l *lease.Lease) {
	if l == nil {
		return
	}
	rs.log.Debug("lease released", zap.String("lease", l.Name()), zap.Uint64("epoch", l.Epoch()))
	releaseLease(ctx, l)
}

// checkpointEvery checkpoints on the commit interval until the returned
// stop is called. A failed checkpoint is logged and retried next time: the
// final one before the snapshot must succeed.
func (r *Repository) checkpointEvery(ctx context.Context, rs *runState, log *zap.Logger) (stop func()) {
	every := r.commitInterval
	if every <= 0 {
		every = defaultCommitInterval
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.checkpoint(ctx); err != nil && ctx.Err() == nil {
					log.Warn("checkpoint failed; retrying at the next one", zap.Error(err))
				} else if err == nil {
					rs.releaseIdle(ctx)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
