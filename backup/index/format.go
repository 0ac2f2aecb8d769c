package index

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// ID is a blob or pack id: the SHA-256 of its content.
type ID [32]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is all zeros, which no real pack or blob has
// (the zero pack id is the file terminator).
func (id ID) IsZero() bool { return id == ID{} }

// Blob types, as stored in a pack.
const (
	TypeData      uint8 = 1
	TypeTree      uint8 = 2
	TypeChunkList uint8 = 3
	TypeData64    uint8 = 4
)

func validType(t uint8) bool { return t >= TypeData && t <= TypeData64 }

// Location says where a blob is stored: its pack, type, byte range in the
// pack (Offset, Length) and its length once decoded (RawLength).
type Location struct {
	Pack                      ID
	Type                      uint8
	Offset, Length, RawLength uint64
}

// Entry is one blob of a pack in an index file.
type Entry struct {
	Type                      uint8
	ID                        ID
	Offset, Length, RawLength uint64
}

const (
	magic   = "Y3IX"
	version = 1

	// MaxEntriesPerPack bounds the blobs of one pack record, and so the
	// memory Decode needs: one pack's entries at a time.
	MaxEntriesPerPack = 1 << 22
	// MaxFileSize bounds the decompressed size of an index file (about 15
	// million blobs). The Encoder refuses to grow past it, so writers split
	// their index into several files; Decode refuses a larger stream, so a
	// hostile file cannot keep a reader busy forever.
	MaxFileSize = 1 << 30

	// maxWindow is the zstd window the encoder uses and the most the decoder
	// accepts; index files are small enough that a bigger one gains nothing.
	maxWindow = 4 << 20
	// maxEntryLen is the longest encoding of one entry (three 10-byte uvarints).
	maxEntryLen = 1 + 32 + 3*binary.MaxVarintLen64
)

// Decode errors. Every error Decode returns for a bad file wraps one of them.
var (
	ErrCorrupt   = errors.New("index file is corrupt")
	ErrTruncated = errors.New("index file is truncated")
)

// Encoder writes one index file. It is not safe for concurrent use.
type Encoder struct {
	z   *zstd.Encoder
	buf []byte
	n   int64 // decompressed bytes written
	err error // sticky: after a failure the file is unusable
}

// NewEncoder starts an index file on w. Close finishes it; w is not closed.
func NewEncoder(w io.Writer) *Encoder {
	// Blob ids are random and make up most of a file, so compression gains
	// little beyond the varints; the default level with a small window keeps
	// the writer cheap, and the reader's window bound small.
	z, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(maxWindow),
		zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		panic(err) // only invalid options fail
	}
	e := &Encoder{z: z, buf: make([]byte, 0, 64<<10)}
	e.buf = append(e.buf, magic...)
	e.buf = append(e.buf, version)
	return e
}

// AddPack appends the record of one pack. entries must be non-empty, at most
// MaxEntriesPerPack, and have valid types.
func (e *Encoder) AddPack(pack ID, entries []Entry) error {
	if e.err != nil {
		return e.err
	}
	if pack.IsZero() {
		return errors.New("index: AddPack: zero pack id")
	}
	if len(entries) == 0 || len(entries) > MaxEntriesPerPack {
		return fmt.Errorf("index: AddPack %s: %d entries, want 1..%d", pack, len(entries), MaxEntriesPerPack)
	}
	for i := range entries {
		if !validType(entries[i].Type) {
			return fmt.Errorf("index: AddPack %s: blob %s has invalid type %d", pack, entries[i].ID, entries[i].Type)
		}
	}
	e.buf = append(e.buf, pack[:]...)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(entries)))
	for i := range entries {
		en := &entries[i]
		e.buf = append(e.buf, en.Type)
		e.buf = append(e.buf, en.ID[:]...)
		e.buf = binary.AppendUvarint(e.buf, en.Offset)
		e.buf = binary.AppendUvarint(e.buf, en.Length)
		e.buf = binary.AppendUvarint(e.buf, en.RawLength)
		// Flush in slices so a pack of millions of blobs needs no buffer of
		// its size.
		if len(e.buf) > cap(e.buf)-maxEntryLen {
			if err := e.flush(); err != nil {
				return err
			}
		}
	}
	return e.flush()
}

// Size returns the decompressed bytes written so far, so that a writer can
// start a new file well before MaxFileSize.
func (e *Encoder) Size() int64 { return e.n + int64(len(e.buf)) }

func (e *Encoder) flush() error {
	e.n += int64(len(e.buf))
	if e.n > MaxFileSize {
		e.err = fmt.Errorf("index: file would exceed %d bytes: start a new index file", MaxFileSize)
		return e.err
	}
	if _, err := e.z.Write(e.buf); err != nil {
		e.err = fmt.Errorf("index: write: %w", err)
		return e.err
	}
	e.buf = e.buf[:0]
	return nil
}

// Close writes the terminator record and finishes the zstd stream. Only a
// file whose Close succeeded is complete.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	var zero ID
	e.buf = append(e.buf, zero[:]...)
	e.buf = binary.AppendUvarint(e.buf, 0)
	if err := e.flush(); err != nil {
		return err
	}
	if err := e.z.Close(); err != nil {
		e.err = fmt.Errorf("index: finish: %w", err)
		return e.err
	}
	e.err = errors.New("index: encoder is closed")
	return nil
}

var decoders sync.Pool // *zstd.Decoder

// Decode reads an index file from r and calls fn for each pack record, in
// file order. The entries slice is reused between calls: fn must copy what it
// keeps. Memory stays at one pack's entries whatever the file size. Decode
// fails, without calling fn again, when fn fails, and on a corrupt or
// truncated file (errors wrapping ErrCorrupt or ErrTruncated); fn may
// already have seen the packs before the damage, so a caller that must not
// act on a bad file buffers or undoes what fn did.
func Decode(r io.Reader, fn func(pack ID, entries []Entry) error) error {
	return decode(r, MaxFileSize, fn)
}

func decode(r io.Reader, limit int64, fn func(pack ID, entries []Entry) error) error {
	src := &srcReader{r: r}
	zd, err := getDecoder(src)
	if err != nil {
		return fmt.Errorf("index: %w: %v", ErrCorrupt, err)
	}
	defer putDecoder(zd)
	d := decoder{src: src, limit: limit, r: bufio.NewReaderSize(&limitReader{r: zd, left: limit}, 32<<10)}
	return d.run(fn)
}

func getDecoder(r io.Reader) (*zstd.Decoder, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		if err := d.Reset(r); err != nil {
			return nil, err
		}
		return d, nil
	}
	// The window bound refuses frames that demand big buffers; low-memory
	// mode and concurrency 1 keep a decoder to a few MiB.
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxWindow))
}

func putDecoder(d *zstd.Decoder) {
	if d.Reset(nil) == nil {
		decoders.Put(d)
	}
}

// errTooLarge is returned by limitReader once the decompressed stream passes
// its limit.
var errTooLarge = errors.New("decompressed size limit exceeded")

type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// A stream of exactly the limit is fine: probe for one more byte.
		var b [1]byte
		n, err := l.r.Read(b[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
