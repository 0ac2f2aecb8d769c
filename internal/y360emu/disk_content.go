package y360emu

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"strconv"
	"sync"
)

// diskContent is the immutable body of a file version: bytes held in
// memory, a generated stream (AES-CTR keystream under a key derived from a
// seed), so a multi-gigabyte file costs no RAM and any offset can be read
// directly for Range requests, or an uploaded body spooled to a file (see
// SetDiskUploadSpool). Sums are computed once, by streaming, on first need,
// and cached.
type diskContent struct {
	size int64
	data []byte // nil for generated and spooled content
	seed int64
	file string // spooled upload: the file holding the bytes

	once     sync.Once
	md5, sha string
}

func bytesContent(b []byte) *diskContent {
	c := &diskContent{size: int64(len(b)), data: append([]byte(nil), b...)}
	c.sums() // cheap for in-memory bytes; keeps later listings free of hashing
	return c
}

func generatedContent(size, seed int64) *diskContent {
	return &diskContent{size: size, seed: seed}
}

// spooledContent is an uploaded body already written to file, whose sums
// were computed while it was received.
func spooledContent(file string, size int64, md5hex, shahex string) *diskContent {
	c := &diskContent{size: size, file: file}
	c.once.Do(func() { c.md5, c.sha = md5hex, shahex })
	return c
}

// sums returns the hex md5 and sha256 of the content, computing them once.
func (c *diskContent) sums() (md5hex, sha256hex string) {
	c.once.Do(func() {
		m, s := md5.New(), sha256.New()
		_, _ = io.Copy(io.MultiWriter(m, s), c.reader(0))
		c.md5, c.sha = hex.EncodeToString(m.Sum(nil)), hex.EncodeToString(s.Sum(nil))
	})
	return c.md5, c.sha
}

// reader streams the content from off to the end.
func (c *diskContent) reader(off int64) io.Reader {
	if off >= c.size {
		return bytes.NewReader(nil)
	}
	switch {
	case c.data != nil:
		return bytes.NewReader(c.data[off:])
	case c.file != "":
		return &fileReader{name: c.file, off: off, left: c.size - off}
	}
	return newKeystream(c.seed, off, c.size-off)
}

// fileReader reads left bytes of a spooled file from off. It opens the file
// on the first Read and closes it at the end or on an error, so contents
// that are never read hold no descriptor. (A reader abandoned half-way
// leaves its descriptor to the os.File finalizer.)
type fileReader struct {
	name string
	off  int64
	left int64
	f    *os.File
	err  error
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left <= 0 {
		r.finish(io.EOF)
		return 0, io.EOF
	}
	if r.f == nil {
		f, err := os.Open(r.name)
		if err != nil {
			r.finish(err)
			return 0, err
		}
		r.f = f
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		err = io.ErrUnexpectedEOF // the spool file was cut short
	}
	if err == io.EOF || r.left == 0 {
		err = nil
	}
	if err != nil {
		r.finish(err)
	}
	return n, err
}

func (r *fileReader) finish(err error) {
	r.err = err
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
}

// keystream yields n bytes of AES-128-CTR keystream starting at byte off of
// the stream for seed. CTR makes random access trivial: the counter block of
// byte off is off/16.
type keystream struct {
	ctr  cipher.Stream
	skip int // bytes of the first block before off
	left int64
}

func newKeystream(seed, off, n int64) *keystream {
	key := sha256.Sum256([]byte("y360emu disk content " + strconv.FormatInt(seed, 10)))
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		panic(err) // a 16-byte key cannot fail
	}
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/16))
	return &keystream{ctr: cipher.NewCTR(block, iv[:]), skip: int(off % 16), left: n}
}

func (k *keystream) Read(p []byte) (int, error) {
	if k.left <= 0 {
		return 0, io.EOF
	}
	for k.skip > 0 {
		var b [16]byte
		k.ctr.XORKeyStream(b[:k.skip], b[:k.skip])
		k.skip = 0
	}
	if int64(len(p)) > k.left {
		p = p[:k.left]
	}
	clear(p)
	k.ctr.XORKeyStream(p, p)
	k.left -= int64(len(p))
	return len(p), nil
}
