package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/sources"
)

// UserLister lists the organization's users (sources/y360's Client does).
type UserLister interface {
	ListUsers(ctx context.Context, fn func(sources.User) error) error
}

// RunOptions configure one backup run.
type RunOptions struct {
	Users   UserLister
	Sources []sources.Source
	// OrgSources run once per run, not per user, for the organization's
	// pseudo-user OrgUser() (sources/org). They are skipped when Only names
	// users, unless Only also names OrgUserID.
	OrgSources []sources.Source
	// Tokens returns the token source for a user.
	Tokens func(sources.User) sources.TokenSource
	// Filter decides whether a listed user is backed up; reason explains a no.
	// Nil means every enabled, non-robot user.
	Filter func(sources.User) (ok bool, reason string)
	// Only restricts the run to these users (email or id), which must exist.
	Only []string
	// Concurrency is the number of users backed up at once (default 4).
	Concurrency int
	// Log receives progress; nil = no logging.
	Log *zap.Logger
	// OnUserDone, if set, is called (from worker goroutines, concurrently)
	// when a user's backup ends: metrics and progress displays hang here.
	OnUserDone func(UserSnapshot)
	// OnStart, if set, is called once with the number of selected users.
	OnStart func(users int)
}

// DefaultFilter skips blocked users and robots.
func DefaultFilter(u sources.User) (bool, string) {
	switch {
	case u.Robot:
		return false, "robot account"
	case !u.Enabled:
		return false, "blocked user"
	}
	return true, ""
}

// Backup runs one backup over the selected users and writes a snapshot. The
// returned error is non-nil only when the run could not happen or complete at
// all (lock held, user list unavailable, cancelled); per-user and per-item
// failures are in the snapshot, whose Status is then "partial" or "failed".
func (r *Repository) Backup(ctx context.Context, opts RunOptions) (*Snapshot, error) {
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Filter == nil {
		opts.Filter = DefaultFilter
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	snap := &Snapshot{Version: FormatVersion, ID: newID(), Started: time.Now().UTC()}
	snap.Host, _ = os.Hostname()
	r.blobs.beginRun()
	defer r.blobs.endRun()

	users, err := r.selectUsers(ctx, opts, log)
	if err != nil {
		return nil, err
	}
	// Where each (user, source) resumes: the newest snapshot's entry, or a
	// checkpoint a crashed run left if that ranks higher.
	prev, err := r.latestSnapshot(ctx)
	if err != nil {
		log.Warn("snapshot(s) unreadable, skipped (run verify); users resume from the newest readable one, checkpoints, or afresh", zap.Error(err))
	}
	ckpts, err := r.listCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	rs := &runState{prev: usersByID(prev), ckpts: ckpts, log: log, stores: map[string]*userStore{}}
	rs.plan(users, opts.Sources)
	nUsers := len(users)
	if wantOrg(opts) {
		// First, so its long per-user settings walk overlaps the users'.
		users = append([]sources.User{OrgUser()}, users...)
		rs.plan(users[:1], opts.OrgSources)
	}
	stopTicker := r.checkpointEvery(ctx, rs, log)
	if opts.OnStart != nil {
		opts.OnStart(nUsers)
	}
	log.Info("backup starting", zap.String("run", snap.ID), zap.Int("users", nUsers), zap.Int("concurrency", opts.Concurrency))

	results := make([]UserSnapshot, len(users))
	work := make(chan int)
	var wg sync.WaitGroup
	var orgErr atomic.Pointer[string] // set once the org's credentials are refused
	for w := 0; w < opts.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if msg := orgErr.Load(); msg != nil {
					results[i] = UserSnapshot{ID: users[i].ID, Email: users[i].Email, Status: StatusFailed,
						Error: "not attempted: " + *msg, Sources: map[string]*SourceSnapshot{}}
					continue
				}
				results[i] = r.backupUser(ctx, snap.ID, users[i], opts, rs, log)
				if opts.OnUserDone != nil && users[i].ID != OrgUserID {
					opts.OnUserDone(results[i])
				}
				if results[i].orgErr != "" {
					orgErr.CompareAndSwap(nil, &results[i].orgErr)
				}
			}
		}()
	}
feed:
	for i := range users {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	stopTicker()
	defer rs.releaseAll(ctx, r)
	if err := ctx.Err(); err != nil {
		// No snapshot for an interrupted run: a last checkpoint keeps what
		// was committed, and the next run resumes from it.
		_ = r.checkpoint(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("backup interrupted: %w (committed checkpoints are kept; the next run resumes)", err)
	}
	// Everything the snapshot will name must be durable first.
	if err := r.checkpoint(ctx); err != nil {
		return nil, fmt.Errorf("backup: final checkpoint: %w (the next run resumes from the last good one)", err)
	}
	// A changed state ranks above every checkpoint this run wrote, so the
	// snapshot supersedes them (and they can be deleted).
	for _, u := range results {
		for _, ss := range u.Sources {
			if ss.changed {
				ss.Seq = r.nextSeq()
			}
		}
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Email < results[j].Email })
	snap.Users = results
	finish(snap)
	// Carry forward what this run did not touch (other users, other
	// sources: a mail-only or one-user run), so the newest snapshot always
	// restores everything backed up so far. The newest snapshot is read
	// again now: another writer may have finished one since this run began.
	// Carried parts keep their heads and are marked; they count in no total.
	base := ""
	last, err := r.latestSnapshot(ctx)
	if err != nil {
		log.Warn("snapshot(s) unreadable, skipped (run verify); carrying forward from the newest readable one", zap.Error(err))
	}
	if last != nil {
		carryForward(snap, last)
		base = last.Key
	}
	if err := r.saveSnapshot(context.WithoutCancel(ctx), snap); err != nil {
		return snap, err
	}
	rs.dropSuperseded(context.WithoutCancel(ctx), r, snap)
	r.mergeConcurrent(context.WithoutCancel(ctx), snap, base, log)
	log.Info("backup finished", zap.String("run", snap.ID), zap.String("status", snap.Status),
		zap.Int("users_ok", snap.UsersOK), zap.Int("users_failed", snap.UsersFailed),
		zap.Int64("items", snap.Totals.Items), zap.Int64("bytes", snap.Totals.Bytes), zap.Int64("failed_items", snap.Totals.Failed))
	return snap, nil
}

// mergeConcurrent handles writers that finished at the same moment: each
// carried the others' users from the snapshot it read (base) before any of
// them wrote. After writing, a run looks for snapshots written since base;
// if one holds a higher-ranked state of some (user, source), it writes a
// merged snapshot (the carry rule, by rank) so the newest name holds both.
// Each writer does the same, so whichever writes last holds everything;
// merging is idempotent and ranks only grow, so this ends (bounded anyway).
func (r *Repository) mergeConcurrent(ctx context.Context, snap *Snapshot, base string, log *zap.Logger) {
	for range 3 {
		keys, err := r.snapshotKeys(ctx)
		if err != nil {
			log.Warn("merge with concurrent snapshots: list", zap.Error(err))
			return
		}
		changed := false
		for _, k := range keys {
			if k <= base || k == snap.Key {
				continue
			}
			other, err := r.loadSnapshot(ctx, k)
			if err != nil {
				log.Warn("merge with concurrent snapshots: read", zap.String("snapshot", k), zap.Error(err))
				continue
			}
			changed = carryForward(snap, other) || changed
			base = max(base, k)
		}
		if !changed {
			return
		}
		snap.ID, snap.Finished = newID(), time.Now().UTC()
		if err := r.saveSnapshot(ctx, snap); err != nil {
			log.Warn("merge with concurrent snapshots: write", zap.Error(err))
			return
		}
		log.Info("merged a snapshot written concurrently by another writer", zap.String("snapshot", snap.ID))
	}
}

// carryForward copies into snap every user and source of prev that snap
// lacks, marked Carried; and where prev holds a higher-ranked state of a
// (user, source) than this run's (another writer took it over since), it
// takes prev's: each entry ends as the newest state any writer committed.
// It reports whether snap changed.
func carryForward(snap, prev *Snapshot) bool {
	changed := false
	byID := map[string]*UserSnapshot{}
	for i := range snap.Users {
		byID[snap.Users[i].ID] = &snap.Users[i]
	}
	for _, pu := range prev.Users {
		cur, ok := byID[pu.ID]
		if !ok {
			pu.Carried = true
			snap.Users = append(snap.Users, pu)
			changed = true
			continue
		}
		if cur.Sources == nil {
			cur.Sources = map[string]*SourceSnapshot{}
		}
		for name, ps := range pu.Sources {
			mine, done := cur.Sources[name]
			if done && !(version{mine.Epoch, mine.Seq}).less(version{ps.Epoch, ps.Seq}) {
				continue
			}
			c := *ps
			c.Carried = true
			cur.Sources[name] = &c
			changed = true
		}
	}
	return changed
}

// finish fills status and totals.

func finish(snap *Snapshot) {
	snap.Finished = time.Now().UTC()
	orgBad := false
	for _, u := range snap.Users {
		if u.Carried {
			continue
		}
		if u.ID == OrgUserID {
			// Not a user: it counts in no user total, but its failure
			// makes the run partial.
			orgBad = u.Status == StatusFailed
			for _, s := range u.Sources {
				if !s.Carried {
					snap.Totals.add(s.Stats)
				}
			}
			continue
		}
		if u.Status == StatusFailed {
			snap.UsersFailed++
		} else {
			snap.UsersOK++
		}
		for _, s := range u.Sources {
			if !s.Carried {
				snap.Totals.add(s.Stats)
			}
		}
	}
	switch {
	case snap.UsersFailed == 0 && snap.Totals.Failed == 0 && !orgBad:
		snap.Status = StatusOK
	case snap.UsersOK == 0 && snap.UsersFailed > 0:
		snap.Status = StatusFailed
	default:
		snap.Status = StatusPartial
	}
}

// selectUsers lists users, applies Only and Filter, and sorts them.
func (r *Repository) selectUsers(ctx context.Context, opts RunOptions, log *zap.Logger) ([]sources.User, error) {
	want := map[string]bool{}
	for _, o := range opts.Only {
		if o != OrgUserID {
			want[strings.ToLower(o)] = false
		}
	}
	if len(opts.Only) > 0 && len(want) == 0 {
		return nil, nil // only the organization
	}
	var users []sources.User
	err := opts.Users.ListUsers(ctx, func(u sources.User) error {
		if len(want) > 0 {
			key := ""
			if _, ok := want[strings.ToLower(u.Email)]; ok {
				key = strings.ToLower(u.Email)
			} else if _, ok := want[u.ID]; ok {
				key = u.ID
			}
			if key == "" {
				return nil
			}
			want[key] = true
		} else if ok, why := opts.Filter(u); !ok {
			log.Debug("user skipped", zap.String("user", u.Email), zap.String("reason", why))
			return nil
		}
		users = append(users, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var missing []string
	for k, found := range want {
		if !found {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("no such user in the organization: %s", strings.Join(missing, ", "))
	}
	// By lease bucket, then email: a bucket's users run together, so its
	// lease is held briefly; the order is the same every run.
	sort.Slice(users, func(i, j int) bool {
		bi, bj := leaseBucket(users[i].ID), leaseBucket(users[j].ID)
		return bi < bj || (bi == bj && users[i].Email < users[j].Email)
	})
	return users, nil
}

// backupUser runs every source for one user, isolating failures.
func (r *Repository) backupUser(ctx context.Context, run string, u sources.User, opts RunOptions, rs *runState, log *zap.Logger) UserSnapshot {
	us := UserSnapshot{ID: u.ID, Email: u.Email, Status: StatusOK, Sources: map[string]*SourceSnapshot{}}
	srcs := opts.Sources
	if u.ID == OrgUserID {
		srcs = opts.OrgSources
	}
	tok := opts.Tokens(u)
	var errs []string
	for _, src := range srcs {
		rl, err := rs.lease(ctx, r, u.ID, src.Name())
		if errors.Is(err, ErrBusy) {
			rs.done(rl, nil)
			// Another writer is on it: leave it to them; the snapshot
			// carries the newest state of this (user, source).
			log.Warn("source busy in another writer; skipped and carried (a crashed writer's lease frees itself after lease_ttl; `y360backup unlock` frees it now)",
				zap.String("user", u.Email), zap.String("source", src.Name()), zap.Error(err))
			continue
		}
		ss := &SourceSnapshot{Status: StatusOK}
		us.Sources[src.Name()] = ss
		var st *userStore
		if err == nil {
			log.Debug("source start", zap.String("user", u.Email), zap.String("source", src.Name()),
				zap.String("lease", rl.l.Name()), zap.Uint64("epoch", rl.l.Epoch()))
			st = rs.open(ctx, r, u.ID, src.Name(), run, rl.l)
			sctx, cancel := withLease(ctx, rl.l)
			err = runSource(sctx, src, u, tok, st)
			cancel()
			if lerr := rl.l.Err(); lerr != nil && ctx.Err() == nil {
				err = fmt.Errorf("%s: stopped: %w", src.Name(), lerr)
				delete(us.Sources, src.Name()) // the successor's state is carried instead
			}
			st.mu.Lock()
			st.finished = true
			st.mu.Unlock()
			rs.done(rl, st)
		} else {
			if rl != nil {
				rs.done(rl, nil)
			}
			st = r.openUserStore(u.ID, src.Name(), run, nil)
		}
		var ver uint64
		ss.Containers, ver = st.snapshotHeads()
		// An unchanged state keeps its rank, so the user's tree stays
		// byte-identical and the snapshot stores nothing new for it.
		ss.Epoch, ss.Seq = st.start.Epoch, st.start.Seq
		if ss.changed = ver != 0; ss.changed {
			ss.Epoch = st.epoch // Seq is set after the final checkpoint (Backup)
		}
		ss.Stats = st.stats
		ss.Failures, ss.Skips = st.failures, st.skips
		if err != nil {
			if errors.Is(err, sources.ErrOrgCredentials) {
				us.orgErr = err.Error()
				log.Error("organization credentials refused; stopping the run", zap.Error(err))
			}
			ss.Status, ss.Error = StatusFailed, err.Error()
			msg := err.Error()
			if !strings.HasPrefix(msg, src.Name()+":") {
				msg = src.Name() + ": " + msg
			}
			errs = append(errs, msg)
			log.Warn("source failed", zap.String("user", u.Email), zap.String("source", src.Name()), zap.Error(err))
		} else if ss.Stats.Failed > 0 {
			ss.Status = StatusPartial
		}
		log.Info("source done", zap.String("user", u.Email), zap.String("source", src.Name()),
			zap.Int64("items", ss.Stats.Items), zap.Int64("deleted", ss.Stats.Deleted), zap.Int64("failed", ss.Stats.Failed))
	}
	if len(us.Sources) == 0 && len(errs) == 0 {
		us.Carried = true // every source was busy in other writers
	}
	if len(errs) > 0 {
		us.Status, us.Error = StatusFailed, strings.Join(errs, "; ")
	} else {
		for _, s := range us.Sources {
			if s.Status != StatusOK {
				us.Status = StatusPartial
			}
		}
	}
	return us
}

// runSource calls the source and turns a panic into an error, so one bad
// item in one user's data cannot take the daemon down.
func runSource(ctx context.Context, src sources.Source, u sources.User, tok sources.TokenSource, st *userStore) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in %s source: %v", src.Name(), p)
		}
	}()
	err = src.Backup(ctx, u, tok, st)
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() == nil {
		err = fmt.Errorf("%s: %w", src.Name(), err)
	}
	return err
}
