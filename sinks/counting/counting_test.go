package counting_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/counting"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

// The decorator keeps every contract of the sink it wraps.
func TestConformance(t *testing.T) {
	sinktest.RunOptions(t, sinktest.Options{LargeSize: 4 << 20, MaxHeapGrowth: 64 << 20},
		func(t *testing.T) sinks.Sink { return counting.New(mem.New()) })
}

func TestCounts(t *testing.T) {
	ctx := context.Background()
	inner := mem.New()
	s := counting.New(inner)
	if s.String() != inner.String() || s.Unwrap() != inner {
		t.Errorf("String/Unwrap do not show the inner sink: %q", s.String())
	}
	if got := s.Counts(); got != (counting.Counts{}) {
		t.Fatalf("fresh sink counts %+v", got)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put(ctx, "a", strings.NewReader("hello"), 5))
	must(s.Put(ctx, "b", struct{ io.Reader }{strings.NewReader("unknown size")}, -1)) // 12 bytes
	if err := s.Put(ctx, "a", strings.NewReader("again"), 5); !errors.Is(err, sinks.ErrExist) {
		t.Fatalf("second Put = %v", err)
	}
	before := s.Counts()

	rc, err := s.Get(ctx, "b")
	must(err)
	b, err := io.ReadAll(rc)
	must(err)
	rc.Close()
	if string(b) != "unknown size" {
		t.Fatalf("Get through the decorator = %q", b)
	}
	rc, err = s.GetRange(ctx, "b", 8, 4)
	must(err)
	got := make([]byte, 3) // read only part: BytesGot counts what the caller read
	_, err = io.ReadFull(rc, got)
	must(err)
	rc.Close()
	if string(got) != "siz" {
		t.Fatalf("GetRange through the decorator = %q", got)
	}
	if _, err := s.GetRange(ctx, "missing", 0, 1); !errors.Is(err, sinks.ErrNotExist) {
		t.Fatalf("GetRange of a missing key = %v", err)
	}
	_, err = s.Stat(ctx, "a")
	must(err)
	must(s.List(ctx, "", func(sinks.ObjectInfo) error { return nil }))
	must(s.Delete(ctx, "a"))

	want := counting.Counts{Puts: 3, Gets: 1, GetRanges: 2, Stats: 1, Lists: 1, Deletes: 1, BytesPut: 17, BytesGot: 12 + 3}
	if c := s.Counts(); c != want {
		t.Errorf("Counts() = %+v\nwant      %+v", c, want)
	}
	if c := s.Counts().Sub(before); c != (counting.Counts{Gets: 1, GetRanges: 2, Stats: 1, Lists: 1, Deletes: 1, BytesGot: 15}) {
		t.Errorf("Sub = %+v", c)
	}
	if n := s.Counts().Requests(); n != 9 {
		t.Errorf("Requests() = %d, want 9", n)
	}
	if inner.Puts != 2 || inner.PutByte != 17 {
		t.Errorf("inner sink saw %d Puts, %d bytes; want 2, 17", inner.Puts, inner.PutByte)
	}
}

// TestFailedPutBytes: a Put that fails midway stores nothing and adds no
// bytes, though the inner sink read some.
func TestFailedPutBytes(t *testing.T) {
	s := counting.New(mem.New())
	r := io.MultiReader(bytes.NewReader(make([]byte, 100)), failReader{})
	if err := s.Put(context.Background(), "k", r, 200); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if c := s.Counts(); c.Puts != 1 || c.BytesPut != 0 {
		t.Errorf("after a failed Put: %+v, want Puts 1, BytesPut 0", c)
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("broken source") }

// TestConcurrent: counters add up under concurrent calls (run with -race).
func TestConcurrent(t *testing.T) {
	s := counting.New(mem.New())
	ctx := context.Background()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("w%d/k%03d", w, i)
				if err := s.Put(ctx, key, strings.NewReader("xyz"), 3); err != nil {
					t.Error(err)
					return
				}
				rc, err := s.GetRange(ctx, key, 1, 2)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		})
	}
	wg.Wait()
	want := counting.Counts{Puts: workers * each, GetRanges: workers * each, BytesPut: 3 * workers * each, BytesGot: 2 * workers * each}
	if c := s.Counts(); c != want {
		t.Errorf("Counts() = %+v, want %+v", c, want)
	}
}
