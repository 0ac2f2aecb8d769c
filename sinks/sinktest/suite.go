package sinktest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// Options tune the suite to one sink; the zero value gives the defaults.
type Options struct {
	// LargeSize is the size of the streamed large objects (default 64 MiB).
	LargeSize int64
	// MaxHeapGrowth bounds how far the heap may grow above its starting point
	// while a large object is written (default 32 MiB).
	MaxHeapGrowth uint64
	// MediumSize is used where a sink has a second write path for bigger
	// objects (S3 multipart): set it above that threshold (default 6 MiB).
	MediumSize int64
}

func (o *Options) defaults() {
	if o.LargeSize == 0 {
		o.LargeSize = 64 << 20
	}
	if o.MaxHeapGrowth == 0 {
		o.MaxHeapGrowth = 32 << 20
	}
	if o.MediumSize == 0 {
		o.MediumSize = 6<<20 + 123
	}
}

// Run runs the suite with default options. newSink must return a fresh, empty
// sink for each subtest (and clean it up with t.Cleanup if needed).
func Run(t *testing.T, newSink func(t *testing.T) sinks.Sink) {
	RunOptions(t, Options{}, newSink)
}

// RunOptions runs the suite with opts.
func RunOptions(t *testing.T, opts Options, newSink func(t *testing.T) sinks.Sink) {
	opts.defaults()
	tests := []struct {
		name string
		fn   func(*testing.T, sinks.Sink, Options)
	}{
		{"RoundTrip", testRoundTrip},
		{"PutExisting", testPutExisting},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"HostileKeys", testHostileKeys},
		{"FailingReader", testFailingReader},
		{"WrongSize", testWrongSize},
		{"UnknownSize", testUnknownSize},
		{"Large", testLarge},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"Cancelled", testCancelled},
		{"GetRange", testGetRange},
		{"GetRangeLarge", testGetRangeLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "Large" && testing.Short() {
				t.Skip("large object test skipped in -short mode")
			}
			tc.fn(t, newSink(t), opts)
		})
	}
}

// put stores data under key with its size and fails the test on error.
func put(t *testing.T, s sinks.Sink, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// get returns the object's content and fails the test on error.
func get(t *testing.T, s sinks.Sink, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

// list returns every listed object with prefix.
func list(t *testing.T, s sinks.Sink, prefix string) []sinks.ObjectInfo {
	t.Helper()
	var out []sinks.ObjectInfo
	if err := s.List(context.Background(), prefix, func(oi sinks.ObjectInfo) error {
		out = append(out, oi)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

func keys(infos []sinks.ObjectInfo) []string {
	out := make([]string, len(infos))
	for i, oi := range infos {
		out[i] = oi.Key
	}
	return out
}

// assertAbsent checks that key is not visible through Stat, Get and List.
func assertAbsent(t *testing.T, s sinks.Sink, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Stat(ctx, key); !errors.Is(err, sinks.ErrNotExist) {
		t.Errorf("Stat(%q) = %v, want ErrNotExist", key, err)
	}
	if rc, err := s.Get(ctx, key); !errors.Is(err, sinks.ErrNotExist) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get(%q) = %v, want ErrNotExist", key, err)
	}
	if got := keys(list(t, s, key)); slices.Contains(got, key) {
		t.Errorf("List(%q) shows %q", key, key)
	}
}

func testRoundTrip(t *testing.T, s sinks.Sink, _ Options) {
	objs := map[string][]byte{
		"repo.json":                                []byte(`{"version":1}`),
		"objects/ab/abcdef0123":                    Data(1, 100_000),
		"index/u1/mail/INBOX/000001.jsonl.zst":     Data(2, 777),
		"snapshots/2026-01-02T03:04:05Z-run1.json": []byte("{}"),
		"names/with space, ünïcode ✓ & (parens)":   []byte("unicode"),
		"empty": {},
	}
	start := time.Now()
	for k, v := range objs {
		put(t, s, k, v)
	}
	for k, v := range objs {
		if got := get(t, s, k); !bytes.Equal(got, v) {
			t.Errorf("Get(%q): got %d bytes, want the %d put", k, len(got), len(v))
		}
		oi, err := s.Stat(context.Background(), k)
		if err != nil {
			t.Fatalf("Stat(%q): %v", k, err)
		}
		if oi.Key != k || oi.Size != int64(len(v)) {
			t.Errorf("Stat(%q) = %+v, want key %q size %d", k, oi, k, len(v))
		}
		// Server clocks may differ from ours; an hour catches zero/garbage times.
		if d := oi.ModTime.Sub(start); d < -time.Hour || d > time.Hour {
			t.Errorf("Stat(%q).ModTime = %v, not within an hour of %v", k, oi.ModTime, start)
		}
	}
	got := list(t, s, "")
	var want []string
	for k := range objs {
		want = append(want, k)
	}
	slices.Sort(want)
	if !slices.Equal(keys(got), want) {
		t.Fatalf("List(\"\") = %q, want %q", keys(got), want)
	}
	for _, oi := range got {
		if oi.Size != int64(len(objs[oi.Key])) {
			t.Errorf("List: %q size %d, want %d", oi.Key, oi.Size, len(objs[oi.Key]))
		}
	}
	if s.String() == "" {
		t.Error("String() is empty")
	}
}

func testPutExisting(t *testing.T, s sinks.Sink, opts Options) {
	ctx := context.Background()
	first := []byte("first version")
	put(t, s, "k", first)
	attempts := []struct {
		name string
		r    io.Reader
		size int64
	}{
		{"known size", strings.NewReader("second"), 6},
		{"unknown size", strings.NewReader("second"), -1},
		{"same content", bytes.NewReader(first), int64(len(first))},
		{"medium known size", NewDataReader(3, opts.MediumSize), opts.MediumSize},
		{"medium unknown size", NewDataReader(3, opts.MediumSize), -1},
	}
	for _, a := range attempts {
		if err := s.Put(ctx, "k", a.r, a.size); !errors.Is(err, sinks.ErrExist) {
			t.Errorf("second Put (%s) = %v, want ErrExist", a.name, err)
		}
	}
	if got := get(t, s, "k"); !bytes.Equal(got, first) {
		t.Errorf("after refused Puts, content = %q, want %q", got, first)
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{"k"}) {
		t.Errorf("List = %q, want only k", got)
	}
}

func testMissing(t *testing.T, s sinks.Sink, _ Options) {
	put(t, s, "dir/obj", []byte("x"))
	for _, k := range []string{"missing", "dir/missing", "no/such/dir/key", "dir", "dir/obj/below"} {
		assertAbsent(t, s, k)
	}
}

func testDelete(t *testing.T, s sinks.Sink, _ Options) {
	ctx := context.Background()
	for _, k := range []string{"missing", "no/such/dir/key"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) of a missing key = %v, want nil", k, err)
		}
	}
	put(t, s, "d/one", []byte("1"))
	put(t, s, "d/two", []byte("2"))
	if err := s.Delete(ctx, "d/one"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertAbsent(t, s, "d/one")
	if err := s.Delete(ctx, "d/one"); err != nil {
		t.Errorf("second Delete = %v, want nil", err)
	}
	if got := keys(list(t, s, "")); !slices.Equal(got, []string{"d/two"}) {
		t.Errorf("List after Delete = %q, want [d/two]", got)
	}
	// A deleted key can be written again (prune, then a later backup).
	put(t, s, "d/one", []byte("again"))
	if got := get(t, s, "d/one"); string(got) != "again" {
		t.Errorf("re-Put after Delete: got %q", got)
	}
}

func testList(t *testing.T, s sinks.Sink, _ Options) {
	// "a-b" < "a/b" < "a0": a sink walking directories must sort "a" as "a/".
	all := []string{"a-b", "a/b", "a/c/d", "a0", "ab", "b", "ba/x"}
	for i := len(all) - 1; i >= 0; i-- { // reverse, so insertion order differs
		put(t, s, all[i], []byte(all[i]))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a", []string{"a-b", "a/b", "a/c/d", "a0", "ab"}},
		{"a/", []string{"a/b", "a/c/d"}},
		{"a/c", []string{"a/c/d"}},
		{"a/c/d", []string{"a/c/d"}},
		{"b", []string{"b", "ba/x"}},
		{"ba/", []string{"ba/x"}},
		{"c", nil},
		{"a/b/", nil},
		{"../", nil},
		{"a/../a", nil},
	}
	for _, c := range cases {
		got := list(t, s, c.prefix)
		if !slices.Equal(keys(got), c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, keys(got), c.want)
		}
		for _, oi := range got {
			if oi.Size != int64(len(oi.Key)) {
				t.Errorf("List(%q): %q size %d, want %d", c.prefix, oi.Key, oi.Size, len(oi.Key))
			}
		}
	}

	// The callback runs on the caller's goroutine: it may use the sink.
	var read []string
	err := s.List(context.Background(), "a/", func(oi sinks.ObjectInfo) error {
		read = append(read, string(get(t, s, oi.Key)))
		return nil
	})
	if err != nil || !slices.Equal(read, []string{"a/b", "a/c/d"}) {
		t.Errorf("List with Get in the callback = %v, read %q", err, read)
	}

	errStop := errors.New("stop here")
	calls := 0
	err = s.List(context.Background(), "", func(sinks.ObjectInfo) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("List with failing callback = %v after %d calls, want errStop after 2", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.List(ctx, "", func(sinks.ObjectInfo) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with cancelled ctx = %v, want context.Canceled", err)
	}
}

// HostileKeys are keys every sink must refuse (sinks.ValidKey rejects them).
var HostileKeys = []string{
	"", "/abs", "/etc/passwd", "../escape", "a/../../escape", "a/..", "..", ".", "./a", "a/./b",
	"a//b", "a/", "/", `a\b`, `..\escape`, "a\x00b", "a\nb", "tab\there", "del\x7f",
	"\xff\xfe", strings.Repeat("k", 1025), strings.Repeat("d/", 600) + "k",
}

func testHostileKeys(t *testing.T, s sinks.Sink, _ Options) {
	ctx := context.Background()
	for _, k := range HostileKeys {
		if err := s.Put(ctx, k, strings.NewReader("evil"), 4); err == nil || errors.Is(err, sinks.ErrExist) {
			t.Errorf("Put(%.60q) = %.200v, want a key error", k, err)
		}
		if rc, err := s.Get(ctx, k); err == nil {
			rc.Close()
			t.Errorf("Get(%.60q) succeeded", k)
		}
		if _, err := s.Stat(ctx, k); err == nil {
			t.Errorf("Stat(%.60q) succeeded", k)
		}
		if err := s.Delete(ctx, k); err == nil {
			t.Errorf("Delete(%.60q) = nil, want a key error", k)
		}
	}
	if got := keys(list(t, s, "")); len(got) != 0 {
		t.Errorf("after hostile Puts, List = %q, want nothing", got)
	}
	// The longest valid key works (in segments a filesystem accepts: NAME_MAX is often 255).
	long := strings.Repeat(strings.Repeat("k", 200)+"/", 4) + strings.Repeat("k", 220)
	put(t, s, long, []byte("ok"))
	if got := get(t, s, long); string(got) != "ok" {
		t.Errorf("1024-byte key: got %q", got)
	}
}

func testFailingReader(t *testing.T, s sinks.Sink, opts Options) {
	ctx := context.Background()
	cases := []struct {
		name   string
		total  int64 // bytes the reader would yield
		failAt int64
		size   int64 // declared
	}{
		{"small known size", 1 << 20, 512 << 10, 1 << 20},
		{"small unknown size", 1 << 20, 512 << 10, -1},
		{"fails at once", 1 << 20, 0, 1 << 20},
		{"medium known size", opts.MediumSize * 2, opts.MediumSize + 1000, opts.MediumSize * 2},
		{"medium unknown size", opts.MediumSize * 2, opts.MediumSize + 1000, -1},
	}
	for i, c := range cases {
		key := "fail/" + strings.ReplaceAll(c.name, " ", "-")
		r := &failingReader{r: NewDataReader(uint64(10+i), c.total), n: c.failAt}
		err := s.Put(ctx, key, r, c.size)
		if err == nil {
			t.Errorf("%s: Put with a failing reader succeeded", c.name)
			continue
		}
		if !errors.Is(err, errReader) {
			t.Logf("%s: Put error does not wrap the reader's error: %v", c.name, err)
		}
		assertAbsent(t, s, key)
		// Nothing is left that blocks a later, complete Put of the key.
		data := Data(uint64(20+i), 1000)
		put(t, s, key, data)
		if got := get(t, s, key); !bytes.Equal(got, data) {
			t.Errorf("%s: Put after a failed one: wrong content", c.name)
		}
	}
}

func testWrongSize(t *testing.T, s sinks.Sink, opts Options) {
	ctx := context.Background()
	cases := []struct {
		name       string
		n, declare int64
	}{
		{"short", 100, 200},
		{"long", 200, 100},
		{"empty but declared", 0, 10},
		{"medium short", opts.MediumSize, opts.MediumSize + 1},
		{"medium long", opts.MediumSize + 1, opts.MediumSize},
	}
	for i, c := range cases {
		key := "size/" + strings.ReplaceAll(c.name, " ", "-")
		if err := s.Put(ctx, key, NewDataReader(uint64(30+i), c.n), c.declare); err == nil {
			t.Errorf("%s: Put of %d bytes declared as %d succeeded", c.name, c.n, c.declare)
		}
		assertAbsent(t, s, key)
	}
}

func testUnknownSize(t *testing.T, s sinks.Sink, opts Options) {
	for i, n := range []int64{0, 1, 100_000, opts.MediumSize} {
		key := "unknown/" + string(rune('a'+i))
		// Hide any Len/Seek methods, so the sink sees a plain stream.
		r := struct{ io.Reader }{NewDataReader(uint64(40+i), n)}
		if err := s.Put(context.Background(), key, r, -1); err != nil {
			t.Fatalf("Put(%q, size -1) of %d bytes: %v", key, n, err)
		}
		rc, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if h, got := hashOf(t, rc); got != n || h != DataHash(uint64(40+i), n) {
			t.Errorf("%q: got %d bytes (hash match %v), want %d", key, got, h == DataHash(uint64(40+i), n), n)
		}
		if oi, err := s.Stat(context.Background(), key); err != nil || oi.Size != n {
			t.Errorf("Stat(%q) = %+v, %v, want size %d", key, oi, err, n)
		}
	}
}

// HeapGrowth runs f and returns how far the heap (HeapAlloc, which includes
// garbage not yet collected) rose above its level before f, sampled every 5 ms.
func HeapGrowth(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	peak.Store(base)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak.Load() - base
}

func testLarge(t *testing.T, s sinks.Sink, opts Options) {
	n := opts.LargeSize
	for i, size := range []int64{n, -1} {
		key := "large/" + []string{"known", "unknown"}[i]
		seed := uint64(50 + i)
		var err error
		start := time.Now()
		growth := HeapGrowth(func() {
			err = s.Put(context.Background(), key, struct{ io.Reader }{NewDataReader(seed, n)}, size)
		})
		if err != nil {
			t.Fatalf("Put(%q) of %d MiB: %v", key, n>>20, err)
		}
		t.Logf("%s: %d MiB in %v (%.0f MB/s), heap growth %.1f MiB", key, n>>20, time.Since(start).Round(time.Millisecond),
			float64(n)/1e6/time.Since(start).Seconds(), float64(growth)/(1<<20))
		if growth > opts.MaxHeapGrowth {
			t.Errorf("Put(%q) of %d MiB grew the heap by %.1f MiB, limit %.1f MiB", key, n>>20,
				float64(growth)/(1<<20), float64(opts.MaxHeapGrowth)/(1<<20))
		}
		rc, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if h, got := hashOf(t, rc); got != n || h != DataHash(seed, n) {
			t.Errorf("Get(%q): %d bytes, hash match %v; want %d bytes", key, got, h == DataHash(seed, n), n)
		}
	}
}

func testConcurrentSameKey(t *testing.T, s sinks.Sink, opts Options) {
	const workers = 8
	for _, size := range []int64{64 << 10, opts.MediumSize} {
		key := "concurrent/" + map[bool]string{true: "small", false: "medium"}[size < opts.MediumSize]
		var wg sync.WaitGroup
		errs := make([]error, workers)
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				errs[w] = s.Put(context.Background(), key, NewDataReader(60, size), size)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for w, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, sinks.ErrExist):
				t.Errorf("%s: worker %d: %v, want nil or ErrExist", key, w, err)
			}
		}
		if won != 1 {
			t.Errorf("%s: %d Puts succeeded, want exactly 1", key, won)
		}
		rc, err := s.Get(context.Background(), key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if h, n := hashOf(t, rc); n != size || h != DataHash(60, size) {
			t.Errorf("%s: content damaged: %d bytes, want %d", key, n, size)
		}
	}
}

func testCancelled(t *testing.T, s sinks.Sink, opts Options) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "cancelled/before", strings.NewReader("data"), 4); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled ctx = %v, want context.Canceled", err)
	}
	assertAbsent(t, s, "cancelled/before")

	// Cancelled while streaming, on both write paths.
	for _, size := range []int64{1 << 20, opts.MediumSize * 2} {
		ctx, cancel := context.WithCancel(context.Background())
		r := &cancelReader{r: NewDataReader(70, size), after: size / 2, cancel: cancel}
		key := "cancelled/midway"
		if err := s.Put(ctx, key, r, size); err == nil {
			t.Errorf("Put of %d bytes cancelled halfway succeeded", size)
		}
		cancel()
		assertAbsent(t, s, key)
	}
	if got := keys(list(t, s, "")); len(got) != 0 {
		t.Errorf("after cancelled Puts, List = %q, want nothing", got)
	}
}

// cancelReader calls cancel once more than after bytes have been read.
type cancelReader struct {
	r      io.Reader
	after  int64
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.after -= int64(n)
	if c.after < 0 {
		c.cancel()
	}
	return n, err
}
