package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// Commit policy defaults: checkpoint every few hundred items or seconds, and
// write a full base segment after this many deltas so replay stays short.
const (
	defaultCommitItems    = 300
	defaultCommitInterval = 15 * time.Second
	baseEvery             = 16
)

// Stats counts what a run did, per source and in total.
type Stats struct {
	Containers    int64 `json:"containers"`
	Items         int64 `json:"items"`          // items added or changed
	MetaChanges   int64 `json:"meta_changes"`   // flag/metadata-only changes
	Deleted       int64 `json:"deleted"`        // items recorded as gone at the source
	Bytes         int64 `json:"bytes"`          // plaintext bytes of added/changed items
	Uploaded      int64 `json:"uploaded"`       // new objects written
	UploadedBytes int64 `json:"uploaded_bytes"` // compressed bytes of new objects
	IndexBytes    int64 `json:"index_bytes"`    // compressed bytes of index segments
	Segments      int64 `json:"segments"`
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

// userStore is the sources.Store for one (user, source) in one run.
type userStore struct {
	repo           *Repository
	uid            string
	source         string
	run            string
	prefix         string
	commitItems    int
	commitInterval time.Duration

	mu       sync.Mutex
	chains   map[string][]segment // ckey → segments, sorted
	names    map[string]string    // ckey → container name, when known
	open     map[string]bool
	stats    Stats
	failures []string
	skips    []string
}

var _ sources.Store = (*userStore)(nil)

func (r *Repository) openUserStore(ctx context.Context, uid, source, run string) (*userStore, error) {
	prefix := indexPrefix(uid, source)
	chains, err := listChains(ctx, r.sink, prefix)
	if err != nil {
		return nil, fmt.Errorf("repository: list %s: %w", prefix, err)
	}
	s := &userStore{repo: r, uid: uid, source: source, run: run, prefix: prefix,
		commitItems: defaultCommitItems, commitInterval: defaultCommitInterval,
		chains: chains, names: map[string]string{}, open: map[string]bool{}}
	if r.commitItems > 0 {
		s.commitItems = r.commitItems
	}
	if r.commitInterval > 0 {
		s.commitInterval = r.commitInterval
	}
	for ckey := range chains {
		if n, ok := containerNameFromKey(ckey); ok {
			s.names[ckey] = n
		}
	}
	return s, nil
}

// Containers implements sources.Store: live containers as of the last commit.
func (s *userStore) Containers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for ckey, chain := range s.chains {
		if len(chain) == 0 || chain[len(chain)-1].Kind == segGone {
			continue
		}
		name, ok := s.names[ckey]
		if !ok {
			name = s.readName(chain[len(chain)-1].Key)
			s.names[ckey] = name
		}
		if name != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// readName reads a hashed container's name from a segment header.
func (s *userStore) readName(key string) string {
	rc, err := s.repo.getCompressed(context.Background(), key)
	if err != nil {
		return ""
	}
	defer rc.Close()
	var rec record
	if json.NewDecoder(io.LimitReader(rc, 1<<16)).Decode(&rec) != nil || rec.T != "hdr" {
		return ""
	}
	return rec.Container
}

// Open implements sources.Store.
func (s *userStore) Open(ctx context.Context, name string) (sources.Container, error) {
	ckey := containerKey(name)
	s.mu.Lock()
	if s.open[ckey] {
		s.mu.Unlock()
		return nil, fmt.Errorf("repository: container %q is already open", name)
	}
	s.open[ckey] = true
	chain := s.chains[ckey]
	s.mu.Unlock()

	st, err := s.repo.openState(ctx, s.prefix, ckey, name, chain)
	if err != nil {
		s.release(ckey)
		return nil, fmt.Errorf("repository: load %s %q: %w", s.source, name, err)
	}
	st.Name = name
	if st.Gone {
		// A folder that disappeared and came back starts afresh; the old
		// content stays in older snapshots.
		head := st.Head
		st = newContainerState(name)
		st.Head = head
		st.SinceBase = baseEvery // next commit writes a base
	}
	s.mu.Lock()
	s.stats.Containers++
	s.names[ckey] = name
	s.mu.Unlock()
	return &container{s: s, ckey: ckey, st: st, cursor: st.Cursor, last: time.Now()}, nil
}

func (s *userStore) release(ckey string) {
	s.mu.Lock()
	delete(s.open, ckey)
	s.mu.Unlock()
}

// Remove implements sources.Store by writing a gone segment.
func (s *userStore) Remove(ctx context.Context, name string) error {
	ckey := containerKey(name)
	s.mu.Lock()
	chain := s.chains[ckey]
	s.mu.Unlock()
	if len(chain) == 0 || chain[len(chain)-1].Kind == segGone {
		return nil
	}
	seq := chain[len(chain)-1].Seq + 1
	key := segmentKey(s.prefix, ckey, seq, segGone)
	now := time.Now().UTC()
	recs := []record{{T: "hdr", V: FormatVersion, Container: name, Run: s.run, Time: &now}}
	b, err := encodeSegment(recs)
	if err != nil {
		return err
	}
	size, err := s.repo.putCompressedBytes(ctx, key, b)
	if err != nil {
		return fmt.Errorf("repository: record removal of %s %q: %w", s.source, name, err)
	}
	s.addSegment(ckey, segment{Seq: seq, Kind: segGone, Key: key}, size)
	return nil
}

func (s *userStore) addSegment(ckey string, sg segment, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chains[ckey] = append(s.chains[ckey], sg)
	s.stats.Segments++
	s.stats.IndexBytes += size
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

// heads returns every live container's head for the snapshot.
func (s *userStore) heads() []ContainerHead {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ContainerHead
	for ckey, chain := range s.chains {
		if len(chain) == 0 || chain[len(chain)-1].Kind == segGone {
			continue
		}
		out = append(out, ContainerHead{Key: ckey, Name: s.names[ckey], Head: chain[len(chain)-1].Seq})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// container implements sources.Container over a replayed state.
type container struct {
	s       *userStore
	ckey    string
	st      *containerState
	cursor  json.RawMessage // last committed cursor
	pending []record
	last    time.Time // last commit
	closed  bool
	dirty   bool // committed since open: refresh the state cache on Close

	inflight sync.WaitGroup // background uploads of this container's bodies
	upErr    error          // first failed upload (guarded by s.mu)
}

var _ sources.Container = (*container)(nil)

func (c *container) Name() string            { return c.st.Name }
func (c *container) Cursor() json.RawMessage { return c.cursor }
func (c *container) Len() int                { return len(c.st.Items) }

func (c *container) Get(id string) (sources.Item, bool) {
	it, ok := c.st.Items[id]
	return it, ok
}

func (c *container) Range(fn func(sources.Item) bool) {
	for _, it := range c.st.Items {
		if !fn(it) {
			return
		}
	}
}

// PutBody spools the body and uploads it in the background; Commit waits
// for every upload of the container, so no segment ever names an object that
// is not stored yet.
func (c *container) PutBody(ctx context.Context, r io.Reader) (sources.Body, error) {
	c.inflight.Add(1)
	b, err := c.s.repo.putObjectAsync(ctx, r, func(ps PutStats, err error) {
		defer c.inflight.Done()
		c.s.mu.Lock()
		defer c.s.mu.Unlock()
		if err != nil {
			if c.upErr == nil {
				c.upErr = err
			}
			return
		}
		if ps.Uploaded {
			c.s.stats.Uploaded++
			c.s.stats.UploadedBytes += ps.Compressed
		}
	})
	if err != nil {
		c.inflight.Done()
	}
	return b, err
}

// waitUploads waits for the container's uploads and returns the first error.
// A failed upload fails every later commit of this container: its item may
// be among the pending records.
func (c *container) waitUploads() error {
	c.inflight.Wait()
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.upErr
}

func (c *container) HasBody(ctx context.Context, hash string) bool {
	return c.s.repo.HasObject(ctx, hash)
}

func (c *container) Put(it sources.Item) {
	if old, ok := c.st.Items[it.ID]; ok && old.Hash == it.Hash && old.Size == it.Size && bytes.Equal(old.Meta, it.Meta) {
		return // nothing changed: keep no-change runs free of writes
	}
	c.st.Items[it.ID] = it
	c.pending = append(c.pending, record{T: "put", ID: it.ID, Hash: it.Hash, Size: it.Size, Meta: it.Meta})
	c.s.mu.Lock()
	c.s.stats.Items++
	c.s.stats.Bytes += it.Size
	c.s.mu.Unlock()
}

func (c *container) SetMeta(id string, meta json.RawMessage) {
	it, ok := c.st.Items[id]
	if !ok || bytes.Equal(it.Meta, meta) {
		return
	}
	it.Meta = meta
	c.st.Items[id] = it
	c.pending = append(c.pending, record{T: "meta", ID: id, Meta: meta})
	c.s.mu.Lock()
	c.s.stats.MetaChanges++
	c.s.mu.Unlock()
}

func (c *container) Delete(id string) {
	if _, ok := c.st.Items[id]; !ok {
		return
	}
	delete(c.st.Items, id)
	c.pending = append(c.pending, record{T: "del", ID: id})
	c.s.mu.Lock()
	c.s.stats.Deleted++
	c.s.mu.Unlock()
}

func (c *container) Reset() {
	if len(c.st.Items) == 0 {
		return
	}
	n := int64(len(c.st.Items))
	c.st.Items = map[string]sources.Item{}
	c.pending = append(c.pending, record{T: "reset"})
	c.s.mu.Lock()
	c.s.stats.Deleted += n
	c.s.mu.Unlock()
}

func (c *container) Due() bool {
	return len(c.pending) >= c.s.commitItems || (len(c.pending) > 0 && time.Since(c.last) >= c.s.commitInterval)
}

func (c *container) Commit(ctx context.Context, cursor any) error {
	if c.closed {
		return fmt.Errorf("repository: commit on closed container %q", c.st.Name)
	}
	cur, err := json.Marshal(cursor)
	if err != nil {
		return fmt.Errorf("repository: encode cursor of %q: %w", c.st.Name, err)
	}
	if len(c.pending) == 0 && bytes.Equal(cur, c.cursor) {
		return nil
	}
	if err := c.waitUploads(); err != nil {
		return fmt.Errorf("repository: commit %s %q: %w", c.s.source, c.st.Name, err)
	}
	seq := c.st.Head + 1
	kind := segDelta
	now := time.Now().UTC()
	recs := []record{{T: "hdr", V: FormatVersion, Container: c.st.Name, Run: c.s.run, Time: &now}}
	if c.st.SinceBase+1 >= baseEvery || c.st.Head == 0 {
		kind = segBase
		for _, it := range c.st.Items {
			recs = append(recs, record{T: "put", ID: it.ID, Hash: it.Hash, Size: it.Size, Meta: it.Meta})
		}
	} else {
		recs = append(recs, c.pending...)
	}
	recs = append(recs, record{T: "cur", Cursor: cur})
	key := segmentKey(c.s.prefix, c.ckey, seq, kind)
	b, err := encodeSegment(recs)
	if err != nil {
		return fmt.Errorf("repository: encode segment of %q: %w", c.st.Name, err)
	}
	size, err := c.s.repo.putCompressedBytes(ctx, key, b)
	if err != nil {
		return fmt.Errorf("repository: commit %s %q: %w", c.s.source, c.st.Name, err)
	}
	c.s.addSegment(c.ckey, segment{Seq: seq, Kind: kind, Key: key}, size)
	c.st.Head = seq
	if kind == segBase {
		c.st.SinceBase = 0
	} else {
		c.st.SinceBase++
	}
	c.cursor = cur
	c.st.Cursor = cur
	c.pending = c.pending[:0]
	c.last = time.Now()
	c.dirty = true
	return nil
}

func (c *container) Close() error {
	if !c.closed {
		c.closed = true
		c.inflight.Wait() // no upload outlives its container
		if c.dirty && len(c.pending) == 0 {
			// Committed state only: uncommitted records never reach the cache.
			c.s.repo.cacheStore(c.s.prefix, c.ckey, c.st)
		}
		c.s.release(c.ckey)
	}
	return nil
}
