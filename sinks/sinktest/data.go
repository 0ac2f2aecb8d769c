package sinktest

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// NewDataReader returns a reader of n pseudo-random bytes determined by seed,
// generated on the fly so that large objects cost no memory.
func NewDataReader(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// Data returns NewDataReader's bytes as a slice, for small objects.
func Data(seed uint64, n int) []byte {
	b, err := io.ReadAll(NewDataReader(seed, int64(n)))
	if err != nil {
		panic(err) // cannot happen: ChaCha8 never fails
	}
	return b
}

// DataHash returns the SHA-256 of NewDataReader(seed, n).
func DataHash(seed uint64, n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, NewDataReader(seed, n))
	return [32]byte(h.Sum(nil))
}

// errReader is the error failingReader returns.
var errReader = errors.New("sinktest: reader failed on purpose")

// failingReader yields the first n bytes of r, then fails with errReader.
type failingReader struct {
	r io.Reader
	n int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errReader
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	k, err := f.r.Read(p)
	f.n -= int64(k)
	return k, err
}

// hashOf reads rc to the end, closes it and returns the SHA-256 and length.
func hashOf(t *testing.T, rc io.ReadCloser) ([32]byte, int64) {
	t.Helper()
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read object: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}
