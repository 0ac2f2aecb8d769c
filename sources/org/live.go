package org

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/y360backup/y360backup/sources"
)

// FetchState reads the live organization through api into a State (for
// `org plan-restore --against live`), by the same code path as a backup
// but storing nothing: objects go straight into the State. Users' mail
// settings are not read (Plan does not use them). Problems (a failed
// listing, an unreadable kind) are returned beside a usable State; the
// error is for an organization that cannot be read at all.
func FetchState(ctx context.Context, api API, cfg Config) (*State, []string, error) {
	cfg.SkipMailSettings = true
	st := &liveStore{state: NewState()}
	if err := New(api, cfg).Backup(ctx, sources.User{ID: "org"}, nil, st); err != nil {
		return nil, st.problems, err
	}
	return st.state, st.problems, nil
}

// liveStore is a sources.Store that keeps nothing but a State.
type liveStore struct {
	state    *State
	problems []string
}

func (s *liveStore) Containers() []string { return nil }
func (s *liveStore) Open(_ context.Context, name string) (sources.Container, error) {
	return &liveContainer{s: s, name: name, pending: map[string][]byte{}}, nil
}
func (s *liveStore) Remove(context.Context, string) error { return nil }
func (s *liveStore) Fail(item string, err error) {
	s.problems = append(s.problems, item+": "+err.Error())
}
func (s *liveStore) Skip(item, cause string) {
	if cause != DelegateCause {
		s.problems = append(s.problems, item+": "+cause)
	}
}

// liveContainer hands each object to the State as it is Put.
type liveContainer struct {
	s       *liveStore
	name    string
	pending map[string][]byte // bodies by hash until their Put
}

func (c *liveContainer) Name() string                         { return c.name }
func (c *liveContainer) Cursor() json.RawMessage              { return nil }
func (c *liveContainer) Get(string) (sources.Item, bool)      { return sources.Item{}, false }
func (c *liveContainer) Range(func(sources.Item) bool)        {}
func (c *liveContainer) Len() int                             { return 0 }
func (c *liveContainer) HasBody(context.Context, string) bool { return false }
func (c *liveContainer) SetMeta(string, json.RawMessage)      {}
func (c *liveContainer) Delete(string)                        {}
func (c *liveContainer) Reset()                               {}
func (c *liveContainer) Due() bool                            { return false }
func (c *liveContainer) Commit(context.Context, any) error    { return nil }
func (c *liveContainer) Close() error                         { return nil }

func (c *liveContainer) PutBody(_ context.Context, r io.Reader) (sources.Body, error) {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return sources.Body{}, err
	}
	sum := sha256.Sum256(b.Bytes())
	h := hex.EncodeToString(sum[:])
	c.pending[h] = b.Bytes()
	return sources.Body{Hash: h, Size: int64(b.Len())}, nil
}

func (c *liveContainer) Put(it sources.Item) {
	raw, ok := c.pending[it.Hash]
	if !ok {
		return
	}
	delete(c.pending, it.Hash)
	if err := c.s.state.Add(c.name, it.ID, raw); err != nil {
		c.s.problems = append(c.s.problems, fmt.Sprint(err))
	}
}
