package sinktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sinks"
)

// testGetRange reads ranges of one small object (and an empty one) and checks
// content, the exact end of the reader, and the errors for bad ranges.
func testGetRange(t *testing.T, s sinks.Sink, _ Options) {
	const key, size = "packs/ab/range-small", 1000
	data := Data(80, size)
	put(t, s, key, data)
	put(t, s, "packs/empty", nil)
	cases := []struct {
		name           string
		key            string
		offset, length int64
		want           error // nil: the range's bytes
		mentionSize    bool  // the error must say the object's size
	}{
		{"whole object", key, 0, size, nil, false},
		{"prefix", key, 0, 10, nil, false},
		{"suffix", key, size - 10, 10, nil, false},
		{"middle", key, 123, 456, nil, false},
		{"one byte", key, 500, 1, nil, false},
		{"last byte", key, size - 1, 1, nil, false},
		{"zero length", key, 100, 0, nil, false},
		{"zero length at offset 0", key, 0, 0, nil, false},
		{"offset == size, length 0", key, size, 0, nil, false},
		{"empty object, length 0", "packs/empty", 0, 0, nil, false},
		{"past the end by one", key, size - 10, 11, sinks.ErrRange, true},
		{"starts at the end", key, size, 1, sinks.ErrRange, false},
		{"starts past the end", key, size + 5, 10, sinks.ErrRange, false},
		{"offset past the end, length 0", key, size + 1, 0, sinks.ErrRange, true},
		{"length wraps int64", key, 1, math.MaxInt64, sinks.ErrRange, false},
		{"empty object, length 1", "packs/empty", 0, 1, sinks.ErrRange, false},
		{"negative offset", key, -1, 10, sinks.ErrRange, false},
		{"negative length", key, 0, -1, sinks.ErrRange, false},
		{"missing key", "packs/missing", 0, 10, sinks.ErrNotExist, false},
		{"missing key, length 0", "packs/missing", 0, 0, sinks.ErrNotExist, false},
		{"missing directory", "no/such/dir/key", 5, 5, sinks.ErrNotExist, false},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := s.GetRange(ctx, c.key, c.offset, c.length)
			if c.want != nil {
				if err == nil {
					rc.Close()
					t.Fatalf("GetRange(%q, %d, %d) succeeded, want %v", c.key, c.offset, c.length, c.want)
				}
				if !errors.Is(err, c.want) {
					t.Fatalf("GetRange(%q, %d, %d) = %v, want %v", c.key, c.offset, c.length, err, c.want)
				}
				msg := err.Error()
				t.Log(msg)
				if !strings.Contains(msg, c.key) || !strings.Contains(msg, strconv.FormatInt(c.offset, 10)) {
					t.Errorf("error %q does not name the key %q and the offset %d", msg, c.key, c.offset)
				}
				if c.mentionSize && !strings.Contains(msg, strconv.Itoa(size)) {
					t.Errorf("error %q does not say the object has %d bytes", msg, size)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetRange(%q, %d, %d): %v", c.key, c.offset, c.length, err)
			}
			got := readExact(t, rc, c.length)
			var want []byte
			if c.key == key {
				want = data[c.offset : c.offset+c.length]
			}
			if !bytes.Equal(got, want) {
				t.Errorf("GetRange(%q, %d, %d): got %d bytes that differ from the object's", c.key, c.offset, c.length, len(got))
			}
		})
	}
	for _, k := range HostileKeys[:8] {
		if rc, err := s.GetRange(ctx, k, 0, 1); err == nil {
			rc.Close()
			t.Errorf("GetRange(%.60q) succeeded", k)
		}
	}
	// A cancelled ctx stops a GetRange before it reads anything.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if rc, err := s.GetRange(cctx, key, 0, 10); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("GetRange with a cancelled ctx = %v, want context.Canceled", err)
	}
}

// readExact reads rc to its end, checks it ended after exactly n bytes with a
// clean io.EOF (also on a second Read) and closes it.
func readExact(t *testing.T, rc io.ReadCloser, n int64) []byte {
	t.Helper()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read range: %v", err)
	}
	if int64(len(got)) != n {
		t.Fatalf("range reader yielded %d bytes, want %d", len(got), n)
	}
	if k, err := rc.Read(make([]byte, 1)); k != 0 || err != io.EOF {
		t.Errorf("Read after the end = %d, %v; want 0, io.EOF", k, err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	return got
}

// testGetRangeLarge reads a multi-MiB object (on S3 a multipart one: the
// ranges cross part boundaries) in odd-sized consecutive ranges and checks
// that they add up to the object; then a few ranges read at once.
func testGetRangeLarge(t *testing.T, s sinks.Sink, opts Options) {
	const key, seed = "packs/cd/range-large", 81
	size := opts.MediumSize
	if err := s.Put(context.Background(), key, NewDataReader(seed, size), size); err != nil {
		t.Fatalf("Put(%q) of %d bytes: %v", key, size, err)
	}
	const chunk = 1<<20 + 4099 // not a divisor of the size or of any part size
	h := sha256.New()
	ranges := 0
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		rc, err := s.GetRange(context.Background(), key, off, n)
		if err != nil {
			t.Fatalf("GetRange(%q, %d, %d): %v", key, off, n, err)
		}
		h.Write(readExact(t, rc, n))
		ranges++
	}
	if [32]byte(h.Sum(nil)) != DataHash(seed, size) {
		t.Fatalf("%d ranges of %q do not add up to the object", ranges, key)
	}
	if ranges < 3 {
		t.Fatalf("only %d ranges: the object is too small for the test", ranges)
	}

	// Concurrent readers of one object each get their own bytes.
	whole := Data(seed, int(size))
	errs := make(chan error, 4)
	for i := range 4 {
		off := int64(i) * (size / 4)
		go func() {
			rc, err := s.GetRange(context.Background(), key, off, 64<<10)
			if err != nil {
				errs <- err
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err == nil && !bytes.Equal(got, whole[off:off+64<<10]) {
				err = fmt.Errorf("range at %d: wrong bytes (%d)", off, len(got))
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent GetRange: %v", err)
		}
	}
}
