package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/y360backup/y360backup/backup/lease"
	"github.com/y360backup/y360backup/sources"
)

// Commit policy defaults: a container commits a segment every few hundred
// items or seconds; the repository checkpoints (makes commits durable) on
// the same interval.
const (
	defaultCommitItems    = 300
	defaultCommitInterval = 15 * time.Second
)

// Stats counts what a run did, per source and in total.
type Stats struct {
	Containers    int64 `json:"containers"`
	Items         int64 `json:"items"`          // items added or changed
	MetaChanges   int64 `json:"meta_changes"`   // flag/metadata-only changes
	Deleted       int64 `json:"deleted"`        // items recorded as gone at the source
	Bytes         int64 `json:"bytes"`          // plaintext bytes of added/changed items
	Uploaded      int64 `json:"uploaded"`       // new bodies stored (not already in the repository)
	UploadedBytes int64 `json:"uploaded_bytes"` // compressed bytes of new bodies
	IndexBytes    int64 `json:"index_bytes"`    // compressed bytes of new segment blobs
	Segments      int64 `json:"segments"`       // segments committed
	Skipped       int64 `json:"skipped"`
	Failed        int64 `json:"failed"`
}

func (s *Stats) add(o Stats) {
	s.Containers += o.Containers
	s.Items += o.Items
	s.MetaChanges += o.MetaChanges
	s.Deleted += o.Deleted
	s.Bytes += o.Bytes
	s.Uploaded += o.Uploaded
	s.UploadedBytes += o.UploadedBytes
	s.IndexBytes += o.IndexBytes
	s.Segments += o.Segments
	s.Skipped += o.Skipped
	s.Failed += o.Failed
}

// maxReported bounds the per-item failure/skip messages kept in a snapshot.
const maxReported = 200

// userStore is the sources.Store for one (user, source) in one run. It
// holds the container heads (segment IDs); the repository's checkpoints make
// them durable (checkpoint.go).
type userStore struct {
	repo           *Repository
	uid            string
	source         string
	run            string
	commitItems    int
	commitInterval time.Duration

	mu       sync.Mutex
	heads    map[string]ContainerHead // ckey → live container
	open     map[string]bool
	version  uint64  // bumped on every change of heads
	epoch    uint64  // lease epoch (fencing; 0 until leases)
	start    version // rank of the state this run started from
	lease    *lease.Lease
	finished bool // the source is done
	durable  bool // finished, and its final state checkpointed
	stats    Stats
	failures []string
	skips    []string
}

var _ sources.Store = (*userStore)(nil)

// openUserStore starts a (user, source) at the given committed heads.
func (r *Repository) openUserStore(uid, source, run string, start []ContainerHead) *userStore {
	s := &userStore{repo: r, uid: uid, source: source, run: run,
		commitItems: defaultCommitItems, commitInterval: defaultCommitInterval,
		heads: map[string]ContainerHead{}, open: map[string]bool{}}
	if r.commitItems > 0 {
		s.commitItems = r.commitItems
	}
	if r.commitInterval > 0 {
		s.commitInterval = r.commitInterval
	}
	for _, h := range start {
		s.heads[h.Key] = h
	}
	return s
}

// Containers implements sources.Store: live containers as of the last commit.
func (s *userStore) Containers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.heads))
	for _, h := range s.heads {
		out = append(out, h.Name)
	}
	sort.Strings(out)
	return out
}

// Open implements sources.Store. The container's state lives in the local
// state store (statestore.go); only its uncommitted changes are in memory.
func (s *userStore) Open(ctx context.Context, name string) (sources.Container, error) {
	ckey := containerKey(name)
	s.mu.Lock()
	if s.open[ckey] {
		s.mu.Unlock()
		return nil, fmt.Errorf("repository: container %q is already open", name)
	}
	s.open[ckey] = true
	head := s.heads[ckey].Head
	s.mu.Unlock()

	id := s.repo.stateID(s.uid, s.source, ckey)
	open := s.repo.openRows
	if s.repo.lostBlobs != nil {
		open = s.repo.rebuildRows // a repair trusts no local row: lost segments must show
	}
	hdr, err := open(ctx, id, name, head)
	afresh := false
	if err == nil && s.repo.lostBlobs != nil {
		if afresh, err = s.repo.needsRepair(ctx, id); err == nil && afresh {
			s.repo.noteRepaired(fmt.Sprintf("%s %s %q", s.uid, s.source, name))
		}
	}
	if err != nil {
		// Healing: an unreadable chain fails this container now; the
		// source starts it afresh (a new base), so the next run is whole.
		s.Fail(fmt.Sprintf("%s %q", s.source, name), fmt.Errorf("stored state unreadable, starting the container afresh: %w", err))
		if hdr, err = s.repo.rebuildRows(ctx, id, name, ""); err != nil {
			s.release(ckey)
			return nil, fmt.Errorf("repository: open %s %q: %w", s.source, name, err)
		}
	}
	s.mu.Lock()
	s.stats.Containers++
	s.mu.Unlock()
	c := &container{s: s, ckey: ckey, id: id, name: name, hdr: hdr, count: hdr.Count,
		over: map[string]*sources.Item{}, cursor: hdr.Cursor, last: time.Now()}
	if afresh {
		// As a new container: no items, no cursor; the source lists and
		// fetches everything, and only the lost bodies are stored again.
		c.over, c.reset, c.count, c.cursor = map[string]*sources.Item{}, true, 0, nil
		c.pending = append(c.pending, record{T: "reset"})
	}
	return c, nil
}

func (s *userStore) release(ckey string) {
	s.mu.Lock()
	delete(s.open, ckey)
	s.mu.Unlock()
}

// Remove implements sources.Store: the container stops being live. Its
// segments stay, so older snapshots still restore it.
func (s *userStore) Remove(ctx context.Context, name string) error {
	ckey := containerKey(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.heads[ckey]; ok {
		delete(s.heads, ckey)
		s.version++
	}
	return nil
}

func (s *userStore) setHead(ckey, name, head string, indexBytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heads[ckey] = ContainerHead{Key: ckey, Name: name, Head: head}
	s.version++
	s.stats.Segments++
	s.stats.IndexBytes += indexBytes
}

// Fail implements sources.Store.
func (s *userStore) Fail(item string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Failed++
	if len(s.failures) < maxReported {
		s.failures = append(s.failures, fmt.Sprintf("%s: %v", item, err))
	}
}

// Skip implements sources.Store.
func (s *userStore) Skip(item, cause string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Skipped++
	if len(s.skips) < maxReported {
		s.skips = append(s.skips, item+": "+cause)
	}
}

// snapshotHeads returns every live container's head, sorted, and the
// version they reflect.
func (s *userStore) snapshotHeads() ([]ContainerHead, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ContainerHead, 0, len(s.heads))
	for _, h := range s.heads {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, s.version
}

// container implements sources.Container over the state store's rows plus
// an overlay of uncommitted changes (bounded by the commit policy).
type container struct {
	s      *userStore
	ckey   string
	id     sid
	name   string
	hdr    stateHeader              // as committed
	over   map[string]*sources.Item // uncommitted: nil = deleted
	reset  bool                     // uncommitted Reset: the rows are all gone
	count  int                      // live items, uncommitted changes included
	cursor json.RawMessage          // last committed cursor

	pending []record
	last    time.Time // last commit
	closed  bool
	putErr  error // a body that failed to store fails every later commit
}

var _ sources.Container = (*container)(nil)

func (c *container) Name() string            { return c.name }
func (c *container) Cursor() json.RawMessage { return c.cursor }
func (c *container) Len() int                { return c.count }

func (c *container) Get(id string) (sources.Item, bool) {
	if p, ok := c.over[id]; ok {
		if p == nil {
			return sources.Item{}, false
		}
		return *p, true
	}
	if c.reset {
		return sources.Item{}, false
	}
	it, ok, err := c.s.repo.state.get(c.id, id)
	if err != nil {
		c.fail(err)
		return sources.Item{}, false
	}
	return it, ok
}

// fail records a state store error; it fails the next commit.
func (c *container) fail(err error) {
	if c.putErr == nil {
		c.putErr = fmt.Errorf("state store: %w", err)
	}
}

// Range implements sources.Container. fn may change the container; items
// it adds are not guaranteed to be visited.
func (c *container) Range(fn func(sources.Item) bool) {
	stop := errors.New("stop")
	if !c.reset {
		err := scanItems(c.s.repo.state.db, c.id, func(it sources.Item) error {
			if _, changed := c.over[it.ID]; changed {
				return nil
			}
			if !fn(it) {
				return stop
			}
			return nil
		})
		if err == stop {
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
	for _, p := range c.over {
		if p != nil && !fn(*p) {
			return
		}
	}
}

// PutBody stores the body's blobs into the open pack (uploaded in the
// background when full). They become durable at the next checkpoint, which
// always precedes any record of the commit that names them.
func (c *container) PutBody(ctx context.Context, r io.Reader) (sources.Body, error) {
	b, ps, err := c.s.repo.PutObject(ctx, r)
	if err != nil {
		if c.putErr == nil {
			c.putErr = err
		}
		return b, err
	}
	if ps.Uploaded {
		c.s.mu.Lock()
		c.s.stats.Uploaded++
		c.s.stats.UploadedBytes += ps.Compressed
		c.s.mu.Unlock()
	}
	return b, nil
}

func (c *container) HasBody(ctx context.Context, hash string) bool {
	return c.s.repo.HasObject(ctx, hash)
}

func (c *container) Put(it sources.Item) {
	old, ok := c.Get(it.ID)
	if ok && old.Hash == it.Hash && old.Size == it.Size && bytes.Equal(old.Meta, it.Meta) {
		return // nothing changed: keep no-change runs free of writes
	}
	if !ok {
		c.count++
	}
	c.over[it.ID] = &it
	c.pending = append(c.pending, record{T: "put", ID: it.ID, Hash: it.Hash, Size: it.Size, Meta: it.Meta})
	c.s.mu.Lock()
	c.s.stats.Items++
	c.s.stats.Bytes += it.Size
	c.s.mu.Unlock()
}

func (c *container) SetMeta(id string, meta json.RawMessage) {
	it, ok := c.Get(id)
	if !ok || bytes.Equal(it.Meta, meta) {
		return
	}
	it.Meta = meta
	c.over[id] = &it
	c.pending = append(c.pending, record{T: "meta", ID: id, Meta: meta})
	c.s.mu.Lock()
	c.s.stats.MetaChanges++
	c.s.mu.Unlock()
}

func (c *container) Delete(id string) {
	if _, ok := c.Get(id); !ok {
		return
	}
	c.over[id] = nil
	c.count--
	c.pending = append(c.pending, record{T: "del", ID: id})
	c.s.mu.Lock()
	c.s.stats.Deleted++
	c.s.mu.Unlock()
}

func (c *container) Reset() {
	if c.count == 0 {
		return
	}
	n := int64(c.count)
	c.over = map[string]*sources.Item{}
	c.reset, c.count = true, 0
	c.pending = append(c.pending, record{T: "reset"})
	c.s.mu.Lock()
	c.s.stats.Deleted += n
	c.s.mu.Unlock()
}

func (c *container) Due() bool {
	return len(c.pending) >= c.s.commitItems || (len(c.pending) > 0 && time.Since(c.last) >= c.s.commitInterval)
}

// Commit adds a segment with the pending records and cursor and moves the
// container's head to it; the state store takes the changes and the new
// header in one batch. The segment is durable at the next checkpoint; a
// crash before loses only records the source fetches again (the store's
// rows then no longer match the head the next run starts from, and are
// rebuilt).
func (c *container) Commit(ctx context.Context, cursor any) error {
	if c.closed {
		return fmt.Errorf("repository: commit on closed container %q", c.name)
	}
	cur, err := json.Marshal(cursor)
	if err != nil {
		return fmt.Errorf("repository: encode cursor of %q: %w", c.name, err)
	}
	if len(c.pending) == 0 && bytes.Equal(cur, c.cursor) && c.hdr.Head != "" {
		return nil
	}
	if c.putErr != nil {
		return fmt.Errorf("repository: commit %s %q: a body failed to store: %w", c.s.source, c.name, c.putErr)
	}
	db := c.s.repo.state.db
	b := db.NewIndexedBatch()
	defer b.Close()
	if c.reset {
		b.DeleteRange(itemPrefix(c.id), prefixEnd(itemPrefix(c.id)), nil)
	}
	for id, p := range c.over {
		if p == nil {
			b.Delete(itemKey(c.id, id), nil)
		} else {
			b.Set(itemKey(c.id, id), encodeItem(*p), nil)
		}
	}
	items := func(fn func(sources.Item) error) error { return scanItems(b, c.id, fn) }
	pos := chainPos{Head: c.hdr.Head, BaseBytes: c.hdr.BaseBytes, DeltaBytes: c.hdr.DeltaBytes, Deltas: c.hdr.Deltas}
	pos, n, err := c.s.repo.writeSegment(ctx, c.name, pos, c.pending, items, cur, c.s.run)
	if err != nil {
		return fmt.Errorf("repository: commit %s %q: %w", c.s.source, c.name, err)
	}
	hdr := stateHeader{Head: pos.Head, Name: c.name, Cursor: cur, BaseBytes: pos.BaseBytes,
		DeltaBytes: pos.DeltaBytes, Deltas: pos.Deltas, Count: c.count}
	if err := putHeader(b, c.id, hdr); err == nil {
		err = b.Commit(pebble.NoSync)
	}
	if err != nil {
		return fmt.Errorf("repository: commit %s %q: state store: %w", c.s.source, c.name, err)
	}
	c.s.setHead(c.ckey, c.name, pos.Head, n)
	c.hdr, c.cursor = hdr, cur
	c.over, c.reset = map[string]*sources.Item{}, false
	c.pending = c.pending[:0]
	c.last = time.Now()
	return nil
}

// Close releases the container; uncommitted changes are discarded.
func (c *container) Close() error {
	if !c.closed {
		c.closed = true
		c.over, c.pending = nil, nil
		c.s.release(c.ckey)
	}
	return nil
}
