package rangeio

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/y360backup/y360backup/sinks"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		offset, length, size int64
		ok                   bool
	}{
		{0, 0, 0, true},
		{0, 10, 10, true},
		{10, 0, 10, true},
		{9, 1, 10, true},
		{9, 2, 10, false},
		{11, 0, 10, false},
		{10, 1, 10, false},
		{-1, 1, 10, false},
		{0, -1, 10, false},
		{1, math.MaxInt64, math.MaxInt64, false}, // the sum would wrap negative
		{math.MaxInt64, 1, -1, false},
		{5, 5, -1, true}, // size unknown: only signs and overflow
		{-5, 5, -1, false},
	}
	for _, c := range cases {
		err := Check(c.offset, c.length, c.size)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, sinks.ErrRange) {
			t.Errorf("Check(%d, %d, %d) = %v, want ok=%v (else ErrRange)", c.offset, c.length, c.size, err, c.ok)
		}
	}
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

func TestExact(t *testing.T) {
	t.Run("stops after n", func(t *testing.T) {
		src := strings.NewReader("0123456789")
		cc := &closeCounter{Reader: iotest.OneByteReader(src)}
		r := Exact(cc, 4, "k")
		b, err := io.ReadAll(r)
		if err != nil || string(b) != "0123" {
			t.Errorf("ReadAll = %q, %v; want 0123", b, err)
		}
		if src.Len() != 6 {
			t.Errorf("Exact read %d bytes past the range", 6-src.Len())
		}
		r.Close()
		if cc.closed != 1 {
			t.Errorf("Close reached the source %d times, want 1", cc.closed)
		}
	})
	t.Run("data and EOF together", func(t *testing.T) {
		r := Exact(io.NopCloser(iotest.DataErrReader(strings.NewReader("abc"))), 3, "k")
		if b, err := io.ReadAll(r); err != nil || string(b) != "abc" {
			t.Errorf("ReadAll = %q, %v", b, err)
		}
	})
	t.Run("short source", func(t *testing.T) {
		r := Exact(io.NopCloser(strings.NewReader("abc")), 5, "s3: get range k [0,+5)")
		b, err := io.ReadAll(r)
		if string(b) != "abc" || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "k [0,+5)") {
			t.Errorf("ReadAll = %q, %v; want abc and io.ErrUnexpectedEOF naming the range", b, err)
		}
		if _, err2 := r.Read(make([]byte, 1)); !errors.Is(err2, io.ErrUnexpectedEOF) {
			t.Errorf("Read after the failure = %v, want the same error again", err2)
		}
	})
	t.Run("source fails", func(t *testing.T) {
		boom := errors.New("connection reset")
		r := Exact(io.NopCloser(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom))), 5, "k")
		if b, err := io.ReadAll(r); string(b) != "ab" || !errors.Is(err, boom) {
			t.Errorf("ReadAll = %q, %v; want ab and the source's error", b, err)
		}
	})
	t.Run("zero length", func(t *testing.T) {
		r := Exact(io.NopCloser(strings.NewReader("abc")), 0, "k")
		if n, err := r.Read(make([]byte, 4)); n != 0 || err != io.EOF {
			t.Errorf("Read = %d, %v; want 0, io.EOF", n, err)
		}
	})
}
