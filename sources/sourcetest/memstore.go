// Package sourcetest gives source tests an in-memory sources.Store with the same
// commit semantics as the real repository: records become visible only at
// Commit, and a store reopened from its committed state behaves like one after a kill -9.
package sourcetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/y360backup/y360backup/sources"
)

// MemStore is an in-memory sources.Store. The zero value is not usable; call New.
type MemStore struct {
	mu         sync.Mutex
	containers map[string]*state // committed state by container name
	bodies     map[string][]byte
	// Counters tests assert on.
	BodyUploads int // PutBody calls that stored a new body
	BodyPuts    int // all PutBody calls
	Commits     int // commits that wrote a segment
	Failures    []string
	Skips       []string
	// DueEvery makes Container.Due true once this many records are pending (0 = 100).
	DueEvery int
}

type state struct {
	items   map[string]sources.Item
	cursor  json.RawMessage
	removed bool
}

// New returns an empty store.
func New() *MemStore {
	return &MemStore{containers: map[string]*state{}, bodies: map[string][]byte{}}
}

// Containers implements sources.Store.
func (s *MemStore) Containers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n, st := range s.containers {
		if !st.removed {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Open implements sources.Store.
func (s *MemStore) Open(ctx context.Context, name string) (sources.Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.containers[name]
	c := &Container{s: s, name: name, items: map[string]sources.Item{}}
	if st != nil && !st.removed {
		for k, v := range st.items {
			c.items[k] = v
		}
		c.cursor = st.cursor
	}
	return c, nil
}

// Remove implements sources.Store.
func (s *MemStore) Remove(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.containers[name]; st != nil {
		st.removed = true
	}
	return nil
}

// Fail implements sources.Store.
func (s *MemStore) Fail(item string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Failures = append(s.Failures, fmt.Sprintf("%s: %v", item, err))
}

// Skip implements sources.Store.
func (s *MemStore) Skip(item, cause string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Skips = append(s.Skips, item+": "+cause)
}

// Items returns the committed live items of a container, by ID.
func (s *MemStore) Items(name string) map[string]sources.Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]sources.Item{}
	if st := s.containers[name]; st != nil && !st.removed {
		for k, v := range st.items {
			out[k] = v
		}
	}
	return out
}

// CommittedCursor returns a container's committed cursor.
func (s *MemStore) CommittedCursor(name string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.containers[name]; st != nil {
		return st.cursor
	}
	return nil
}

// Body returns a stored body by hash.
func (s *MemStore) Body(hash string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bodies[hash]
	return b, ok
}

// Container is MemStore's sources.Container.
type Container struct {
	s       *MemStore
	name    string
	items   map[string]sources.Item // working view: committed + pending
	cursor  json.RawMessage
	pending int
	closed  bool
}

var _ sources.Container = (*Container)(nil)

func (c *Container) Name() string            { return c.name }
func (c *Container) Cursor() json.RawMessage { return c.cursor }
func (c *Container) Len() int                { return len(c.items) }

func (c *Container) Get(id string) (sources.Item, bool) {
	it, ok := c.items[id]
	return it, ok
}

func (c *Container) Range(fn func(sources.Item) bool) {
	for _, it := range c.items {
		if !fn(it) {
			return
		}
	}
}

// PutBody stores r in memory (tests only: not bounded).
func (c *Container) PutBody(ctx context.Context, r io.Reader) (sources.Body, error) {
	var buf bytes.Buffer
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(&buf, h), r)
	if err != nil {
		return sources.Body{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.BodyPuts++
	if _, ok := c.s.bodies[sum]; !ok {
		c.s.bodies[sum] = buf.Bytes()
		c.s.BodyUploads++
	}
	return sources.Body{Hash: sum, Size: n}, nil
}

func (c *Container) HasBody(ctx context.Context, hash string) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, ok := c.s.bodies[hash]
	return ok
}

func (c *Container) Put(it sources.Item) { c.items[it.ID] = it; c.pending++ }

func (c *Container) SetMeta(id string, meta json.RawMessage) {
	if it, ok := c.items[id]; ok {
		it.Meta = meta
		c.items[id] = it
		c.pending++
	}
}

func (c *Container) Delete(id string) {
	if _, ok := c.items[id]; ok {
		delete(c.items, id)
		c.pending++
	}
}

func (c *Container) Reset() {
	if len(c.items) > 0 {
		c.items = map[string]sources.Item{}
		c.pending++
	}
}

func (c *Container) Due() bool {
	n := c.s.DueEvery
	if n == 0 {
		n = 100
	}
	return c.pending >= n
}

func (c *Container) Commit(ctx context.Context, cursor any) error {
	cur, err := json.Marshal(cursor)
	if err != nil {
		return fmt.Errorf("sourcetest: cursor: %w", err)
	}
	if c.pending == 0 && bytes.Equal(cur, c.cursor) {
		return nil
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	st := &state{items: map[string]sources.Item{}, cursor: cur}
	for k, v := range c.items {
		st.items[k] = v
	}
	c.s.containers[c.name] = st
	c.s.Commits++
	c.cursor = cur
	c.pending = 0
	return nil
}

func (c *Container) Close() error { c.closed = true; return nil }

// StaticTokens is a sources.TokenSource that returns Tok and counts Invalidate calls.
type StaticTokens struct {
	mu          sync.Mutex
	Tok         string
	Next        func() string // if set, Invalidate replaces Tok with Next()
	Invalidated int
}

func (t *StaticTokens) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.Tok, nil
}

func (t *StaticTokens) Invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Invalidated++
	if t.Next != nil && tok == t.Tok {
		t.Tok = t.Next()
	}
}
