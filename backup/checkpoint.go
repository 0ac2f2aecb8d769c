package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// A checkpoint makes every commit so far durable: it flushes the packs (and
// writes their index file), then writes, for every (user, source) whose
// heads changed, a small checkpoint object naming them. A run that dies
// resumes from the newest checkpoint or snapshot entry, whichever ranks
// higher by (epoch, seq). See docs/repository.md "Checkpoints and resume".

// checkpointDoc is the content of checkpoints/<seq>-<owner>: one object per
// checkpoint, naming the heads of every (user, source) that changed since
// the previous one (one PUT per checkpoint, not per user).
type checkpointDoc struct {
	V       int               `json:"v"`
	Run     string            `json:"run"`
	Time    time.Time         `json:"time"`
	Entries []checkpointEntry `json:"entries"`
}

// checkpointEntry is one (user, source) in a checkpoint.
type checkpointEntry struct {
	User       string          `json:"user"`
	Source     string          `json:"source"`
	Epoch      uint64          `json:"epoch"`
	Seq        uint64          `json:"seq"`
	Containers []ContainerHead `json:"containers"`
}

func (e checkpointEntry) rank() version { return version{e.Epoch, e.Seq} }

// version is the rank of a state: the lease epoch first, then a sequence
// that grows within it (nanoseconds of the writer's clock, kept strictly
// increasing per process).
type version struct{ Epoch, Seq uint64 }

func (v version) less(o version) bool {
	return v.Epoch < o.Epoch || (v.Epoch == o.Epoch && v.Seq < o.Seq)
}

type checkpointer struct {
	mu      sync.Mutex // one checkpoint at a time
	smu     sync.Mutex
	stores  map[*userStore]uint64 // store → heads version made durable
	lastSeq uint64
	// written: checkpoint objects this Repository wrote and has not yet
	// seen superseded, with their entries' ranks (dropSuperseded).
	written map[string][]checkpointEntry
}

func (r *Repository) nextSeq() uint64 {
	r.ckpt.smu.Lock()
	defer r.ckpt.smu.Unlock()
	s := uint64(time.Now().UnixNano())
	if s <= r.ckpt.lastSeq {
		s = r.ckpt.lastSeq + 1
	}
	r.ckpt.lastSeq = s
	return s
}

// track makes s part of every checkpoint until untrack.
func (r *Repository) track(s *userStore) {
	r.ckpt.smu.Lock()
	defer r.ckpt.smu.Unlock()
	if r.ckpt.stores == nil {
		r.ckpt.stores = map[*userStore]uint64{}
	}
	r.ckpt.stores[s] = 0
}

func (r *Repository) untrack(s *userStore) {
	r.ckpt.smu.Lock()
	defer r.ckpt.smu.Unlock()
	delete(r.ckpt.stores, s)
}

// checkpoint flushes blobs and writes checkpoint objects for changed stores.
func (r *Repository) checkpoint(ctx context.Context) error {
	r.ckpt.mu.Lock()
	defer r.ckpt.mu.Unlock()
	type todo struct {
		s     *userStore
		heads []ContainerHead
		ver   uint64
	}
	var work []todo
	var done []*userStore // finished before this checkpoint: durable after it
	r.ckpt.smu.Lock()
	for s, durable := range r.ckpt.stores {
		s.mu.Lock()
		fin := s.finished
		s.mu.Unlock()
		if fin {
			done = append(done, s)
		}
		if heads, v := s.snapshotHeads(); v != durable {
			work = append(work, todo{s, heads, v})
		}
	}
	r.ckpt.smu.Unlock()
	// Heads were taken before the flush: every segment they name was added
	// to a pack before it, so the flush makes all of them durable.
	if err := r.blobs.flush(ctx); err != nil {
		return fmt.Errorf("repository: checkpoint: %w", err)
	}
	var entries []checkpointEntry
	var wrote []todo
	for _, w := range work {
		if w.s.lease != nil && w.s.lease.Err() != nil {
			// Lost: a successor owns this (user, source) now; our late
			// state must not be written (the epoch would rank it lower
			// anyway).
			continue
		}
		entries = append(entries, checkpointEntry{User: w.s.uid, Source: w.s.source, Epoch: w.s.epoch,
			Seq: r.nextSeq(), Containers: w.heads})
		wrote = append(wrote, w)
	}
	if len(entries) > 0 {
		if err := r.writeCheckpoint(ctx, entries); err != nil {
			return err
		}
	}
	r.ckpt.smu.Lock()
	for _, w := range wrote {
		if _, ok := r.ckpt.stores[w.s]; ok {
			r.ckpt.stores[w.s] = w.ver
		}
	}
	r.ckpt.smu.Unlock()
	// Finished stores whose final state is now durable need no more
	// checkpoints; their leases can go (runState.releaseIdle).
	for _, s := range done {
		r.untrack(s)
		s.mu.Lock()
		s.durable = true
		s.mu.Unlock()
	}
	return nil
}

func (r *Repository) writeCheckpoint(ctx context.Context, entries []checkpointEntry) error {
	doc := checkpointDoc{V: FormatVersion, Time: time.Now().UTC(), Entries: entries}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s%020d-%s", checkpointPrefix, r.nextSeq(), r.owner)
	if err := r.sink.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		return fmt.Errorf("repository: write checkpoint %s: %w", key, err)
	}
	r.ckpt.smu.Lock()
	if r.ckpt.written == nil {
		r.ckpt.written = map[string][]checkpointEntry{}
	}
	r.ckpt.written[key] = entries
	r.ckpt.smu.Unlock()
	return nil
}

// checkpointSet is what checkpoints/ held when a run started: normally
// nothing (runs delete what their snapshot supersedes), else what crashed
// runs left, read whole (it is small).
type checkpointSet struct {
	best map[string]checkpointEntry   // uid + "\x00" + source → highest-ranked entry
	docs map[string][]checkpointEntry // key → its entries
}

func (r *Repository) listCheckpoints(ctx context.Context) (*checkpointSet, error) {
	cs := &checkpointSet{best: map[string]checkpointEntry{}, docs: map[string][]checkpointEntry{}}
	var keys []string
	err := r.sink.List(ctx, checkpointPrefix, func(oi sinks.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repository: list checkpoints: %w", err)
	}
	for _, k := range keys {
		doc, err := r.readCheckpoint(ctx, k)
		if err != nil {
			continue // unreadable: the next older state is used
		}
		cs.docs[k] = doc.Entries
		for _, e := range doc.Entries {
			id := e.User + "\x00" + e.Source
			if b, ok := cs.best[id]; !ok || b.rank().less(e.rank()) {
				cs.best[id] = e
			}
		}
	}
	return cs, nil
}

// startState returns the heads a (user, source) resumes from: the newest of
// the previous snapshot's entry and the checkpoints left by crashed runs.
func (r *Repository) startState(ctx context.Context, uid, source string, prev *SourceSnapshot, cs *checkpointSet) ([]ContainerHead, version) {
	var best version
	var heads []ContainerHead
	if prev != nil {
		best, heads = version{prev.Epoch, prev.Seq}, prev.Containers
	}
	if cs != nil {
		if e, ok := cs.best[uid+"\x00"+source]; ok && best.less(e.rank()) {
			return e.Containers, e.rank()
		}
	}
	return heads, best
}

func (r *Repository) readCheckpoint(ctx context.Context, key string) (*checkpointDoc, error) {
	rc, err := r.sink.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var doc checkpointDoc
	if err := json.NewDecoder(io.LimitReader(rc, 256<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("checkpoint %s is corrupt: %w", key, err)
	}
	return &doc, nil
}

// dropCheckpoints deletes every checkpoint object (left by crashed runs, or
// written by this Repository) whose entries the snapshot supersedes: each
// (user, source) in it ranks at or below the snapshot's entry. Others stay
// (a concurrent run's, or users this run did not cover). Best effort: a
// leftover costs a GET at the next start.
func (r *Repository) dropCheckpoints(ctx context.Context, snap *Snapshot, cs *checkpointSet) {
	ranks := map[string]version{}
	for _, u := range snap.Users {
		for name, ss := range u.Sources {
			ranks[u.ID+"\x00"+name] = version{ss.Epoch, ss.Seq}
		}
	}
	superseded := func(entries []checkpointEntry) bool {
		for _, e := range entries {
			v, ok := ranks[e.User+"\x00"+e.Source]
			if !ok || v.less(e.rank()) {
				return false
			}
		}
		return true
	}
	docs := map[string][]checkpointEntry{}
	if cs != nil {
		for k, es := range cs.docs {
			docs[k] = es
		}
	}
	r.ckpt.smu.Lock()
	for k, es := range r.ckpt.written {
		docs[k] = es
	}
	r.ckpt.smu.Unlock()
	for k, es := range docs {
		if !superseded(es) || r.sink.Delete(ctx, k) != nil {
			continue
		}
		r.ckpt.smu.Lock()
		delete(r.ckpt.written, k)
		r.ckpt.smu.Unlock()
		if cs != nil {
			delete(cs.docs, k)
		}
	}
}
