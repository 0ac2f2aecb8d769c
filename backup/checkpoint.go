package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// A checkpoint makes every commit so far durable: it flushes the packs (and
// writes their index file), then writes, for every (user, source) whose
// heads changed, a small checkpoint object naming them. A run that dies
// resumes from the newest checkpoint or snapshot entry, whichever ranks
// higher by (epoch, seq). See docs/repository.md "Checkpoints and resume".

// checkpointDoc is the content of checkpoints/<user>/<source>/<epoch>-<seq>.
type checkpointDoc struct {
	V          int             `json:"v"`
	Run        string          `json:"run"`
	Time       time.Time       `json:"time"`
	User       string          `json:"user"`
	Source     string          `json:"source"`
	Epoch      uint64          `json:"epoch"`
	Seq        uint64          `json:"seq"`
	Containers []ContainerHead `json:"containers"`
}

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
	var errs []error
	for _, w := range work {
		if w.s.lease != nil && w.s.lease.Err() != nil {
			// Lost: a successor owns this (user, source) now; our late
			// state must not be written (the epoch would rank it lower
			// anyway).
			continue
		}
		key, err := r.writeCheckpoint(ctx, w.s, w.heads)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w.s.mu.Lock()
		w.s.written = append(w.s.written, key)
		w.s.mu.Unlock()
		r.ckpt.smu.Lock()
		if _, ok := r.ckpt.stores[w.s]; ok {
			r.ckpt.stores[w.s] = w.ver
		}
		r.ckpt.smu.Unlock()
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
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

func checkpointDir(uid, source string) string {
	return checkpointPrefix + userKey(uid) + "/" + sourceKey(source) + "/"
}

func (r *Repository) writeCheckpoint(ctx context.Context, s *userStore, heads []ContainerHead) (string, error) {
	doc := checkpointDoc{V: FormatVersion, Run: s.run, Time: time.Now().UTC(), User: s.uid, Source: s.source,
		Epoch: s.epoch, Seq: r.nextSeq(), Containers: heads}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s%020d-%020d", checkpointDir(s.uid, s.source), doc.Epoch, doc.Seq)
	if err := r.sink.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		return "", fmt.Errorf("repository: write checkpoint %s: %w", key, err)
	}
	return key, nil
}

// parseCheckpointKey parses ".../<epoch>-<seq>".
func parseCheckpointKey(key string) (dir string, v version, ok bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", v, false
	}
	e, s, found := strings.Cut(key[i+1:], "-")
	if !found {
		return "", v, false
	}
	var err1, err2 error
	v.Epoch, err1 = strconv.ParseUint(e, 10, 64)
	v.Seq, err2 = strconv.ParseUint(s, 10, 64)
	return key[:i+1], v, err1 == nil && err2 == nil
}

// checkpointSet is the listing of checkpoints/ taken when a run starts:
// normally empty (a finished run deletes what its snapshot supersedes), it
// holds what crashed runs left.
type checkpointSet struct {
	keys map[string][]string // dir → keys
}

func (r *Repository) listCheckpoints(ctx context.Context) (*checkpointSet, error) {
	cs := &checkpointSet{keys: map[string][]string{}}
	err := r.sink.List(ctx, checkpointPrefix, func(oi sinks.ObjectInfo) error {
		if dir, _, ok := parseCheckpointKey(oi.Key); ok {
			cs.keys[dir] = append(cs.keys[dir], oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repository: list checkpoints: %w", err)
	}
	return cs, nil
}

// startState returns the heads a (user, source) resumes from: the newest of
// the previous snapshot's entry and the checkpoints left by crashed runs.
// An unreadable checkpoint is skipped (the next older state is used).
func (r *Repository) startState(ctx context.Context, uid, source string, prev *SourceSnapshot, cs *checkpointSet) ([]ContainerHead, version) {
	var best version
	var heads []ContainerHead
	if prev != nil {
		best, heads = version{prev.Epoch, prev.Seq}, prev.Containers
	}
	if cs == nil {
		return heads, best
	}
	keys := cs.keys[checkpointDir(uid, source)]
	for i := len(keys) - 1; i >= 0; i-- { // newest first (listing is sorted)
		_, v, _ := parseCheckpointKey(keys[i])
		if !best.less(v) {
			continue
		}
		doc, err := r.readCheckpoint(ctx, keys[i])
		if err != nil || doc.User != uid || doc.Source != source {
			continue
		}
		return doc.Containers, v
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
	if err := json.NewDecoder(io.LimitReader(rc, 64<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("checkpoint %s is corrupt: %w", key, err)
	}
	return &doc, nil
}

// dropCheckpoints deletes the checkpoints a written snapshot supersedes for
// one (user, source): those listed at start and those this run wrote, all
// ranked at or below the snapshot's entry. Best effort: a leftover costs a
// GET at most.
func (r *Repository) dropCheckpoints(ctx context.Context, uid, source string, upTo version, cs *checkpointSet, own []string) {
	var keys []string
	if cs != nil {
		keys = append(keys, cs.keys[checkpointDir(uid, source)]...)
	}
	keys = append(keys, own...)
	for _, k := range keys {
		if _, v, ok := parseCheckpointKey(k); ok && !upTo.less(v) {
			_ = r.sink.Delete(ctx, k)
		}
	}
}
