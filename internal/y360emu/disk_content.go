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
	"strconv"
	"sync"
)

// diskContent is the immutable body of a file version: either bytes held in
// memory or a generated stream (AES-CTR keystream under a key derived from a
// seed), so a multi-gigabyte file costs no RAM and any offset can be read
// directly for Range requests. Sums are computed once, by streaming, on first
// need, and cached.
type diskContent struct {
	size int64
	data []byte // nil for generated content
	seed int64

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
	if c.data != nil {
		return bytes.NewReader(c.data[off:])
	}
	return newKeystream(c.seed, off, c.size-off)
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
