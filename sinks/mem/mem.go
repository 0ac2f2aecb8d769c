// Package mem is an in-memory sinks.Sink for tests of higher layers (like
// restic's mem backend). It keeps the same contracts as the real sinks.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/internal/rangeio"
)

// Sink stores objects in a map.
type Sink struct {
	mu      sync.Mutex
	objs    map[string]obj
	Puts    int   // successful Puts, for tests
	PutByte int64 // bytes of successful Puts
	// FailPut, when set, is called before each Put; a non-nil error fails it.
	FailPut func(key string) error
}

type obj struct {
	data []byte
	mod  time.Time
}

var _ sinks.Sink = (*Sink)(nil)

// New returns an empty sink.
func New() *Sink { return &Sink{objs: map[string]obj{}} }

func (s *Sink) String() string { return "mem:" }

func (s *Sink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := sinks.ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	fail := s.FailPut
	s.mu.Unlock()
	if fail != nil {
		if err := fail(key); err != nil {
			return err
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("mem: put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil { // cancelled while reading: nothing becomes visible
		return fmt.Errorf("mem: put %s: %w", key, err)
	}
	if size >= 0 && int64(len(b)) != size {
		return fmt.Errorf("mem: put %s: got %d bytes, want %d", key, len(b), size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[key]; ok {
		return fmt.Errorf("mem: put %s: %w", key, sinks.ErrExist)
	}
	s.objs[key] = obj{data: b, mod: time.Now()}
	s.Puts++
	s.PutByte += int64(len(b))
	return nil
}

func (s *Sink) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := sinks.ValidKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	if !ok {
		return nil, fmt.Errorf("mem: get %s: %w", key, sinks.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

func (s *Sink) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	what := fmt.Sprintf("mem: get range %s [%d,+%d)", key, offset, length)
	if err := sinks.ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	s.mu.Lock()
	o, ok := s.objs[key]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%s: %w", what, sinks.ErrNotExist)
	}
	if err := rangeio.Check(offset, length, int64(len(o.data))); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// The slice is never written to (Corrupt replaces it), so no copy.
	return io.NopCloser(bytes.NewReader(o.data[offset : offset+length])), nil
}

func (s *Sink) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	if err := sinks.ValidKey(key); err != nil {
		return sinks.ObjectInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	if !ok {
		return sinks.ObjectInfo{}, fmt.Errorf("mem: stat %s: %w", key, sinks.ErrNotExist)
	}
	return sinks.ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.mod}, nil
}

func (s *Sink) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	var infos []sinks.ObjectInfo
	for k, o := range s.objs {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, sinks.ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.mod})
		}
	}
	s.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, oi := range infos {
		if err := fn(oi); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) Delete(ctx context.Context, key string) error {
	if err := sinks.ValidKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, key)
	return nil
}

// Corrupt replaces an object's bytes (tests of verify).
func (s *Sink) Corrupt(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[key] = obj{data: data, mod: time.Now()}
}
