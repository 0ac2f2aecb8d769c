// Package counting is a sinks.Sink decorator that counts calls per method and
// bytes moved, so tests can bound what a repository operation costs ("at most
// N PUTs per 1,000 messages") on any sink, including S3.
package counting

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/y360backup/y360backup/sinks"
)

// Counts is a snapshot of a Sink's counters.
type Counts struct {
	// Calls per method, failed ones included: a failed request still cost
	// a round trip.
	Puts, Gets, GetRanges, Stats, Lists, Deletes int64
	// BytesPut is the size of the objects successful Puts stored (counted
	// as the inner sink reads them, so it also works for size -1).
	BytesPut int64
	// BytesGot is what callers have read so far from the readers Get and
	// GetRange returned (not what a sink may have buffered beyond that).
	BytesGot int64
}

// Requests is the number of calls of every method.
func (c Counts) Requests() int64 {
	return c.Puts + c.Gets + c.GetRanges + c.Stats + c.Lists + c.Deletes
}

// Sub returns c minus before, field by field: what happened between two
// snapshots.
func (c Counts) Sub(before Counts) Counts {
	return Counts{
		Puts: c.Puts - before.Puts, Gets: c.Gets - before.Gets, GetRanges: c.GetRanges - before.GetRanges,
		Stats: c.Stats - before.Stats, Lists: c.Lists - before.Lists, Deletes: c.Deletes - before.Deletes,
		BytesPut: c.BytesPut - before.BytesPut, BytesGot: c.BytesGot - before.BytesGot,
	}
}

// Sink forwards every call to the sink it wraps and counts it. It is safe
// for concurrent use (as the inner sink is).
type Sink struct {
	inner                                        sinks.Sink
	puts, gets, getRanges, stats, lists, deletes atomic.Int64
	bytesPut, bytesGot                           atomic.Int64
}

var _ sinks.Sink = (*Sink)(nil)

// New wraps inner.
func New(inner sinks.Sink) *Sink { return &Sink{inner: inner} }

// Unwrap returns the wrapped sink.
func (s *Sink) Unwrap() sinks.Sink { return s.inner }

// Counts returns the counters. Each field is read atomically, but not all of
// them at one instant: take snapshots while no call is in flight when
// fields are compared with each other.
func (s *Sink) Counts() Counts {
	return Counts{
		Puts: s.puts.Load(), Gets: s.gets.Load(), GetRanges: s.getRanges.Load(),
		Stats: s.stats.Load(), Lists: s.lists.Load(), Deletes: s.deletes.Load(),
		BytesPut: s.bytesPut.Load(), BytesGot: s.bytesGot.Load(),
	}
}

// String is the inner sink's name: the decorator is invisible in messages.
func (s *Sink) String() string { return s.inner.String() }

func (s *Sink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.puts.Add(1)
	// Counted locally and added on success only: a failed Put stores nothing.
	cr := &countReader{r: r}
	err := s.inner.Put(ctx, key, cr, size)
	if err == nil {
		s.bytesPut.Add(cr.n.Load())
	}
	return err
}

func (s *Sink) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.gets.Add(1)
	rc, err := s.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &countReadCloser{rc: rc, n: &s.bytesGot}, nil
}

func (s *Sink) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	s.getRanges.Add(1)
	rc, err := s.inner.GetRange(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	return &countReadCloser{rc: rc, n: &s.bytesGot}, nil
}

func (s *Sink) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	s.stats.Add(1)
	return s.inner.Stat(ctx, key)
}

func (s *Sink) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	s.lists.Add(1)
	return s.inner.List(ctx, prefix, fn)
}

func (s *Sink) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.inner.Delete(ctx, key)
}

// countReader counts the bytes the inner sink reads during one Put. A sink
// may read r from several goroutines in turn (S3 multipart), hence atomic.
// Wrapping hides r's other methods (io.WriterTo and the like); no sink relies
// on them for correctness.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countReadCloser adds what the caller reads to the sink's BytesGot.
type countReadCloser struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countReadCloser) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countReadCloser) Close() error { return c.rc.Close() }
