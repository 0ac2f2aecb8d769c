package pack

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
)

// ErrFinished is returned by Add and Finish once Finish has run.
var ErrFinished = errors.New("pack: writer already finished")

// blobKey is what must be unique in one pack: the same id can legitimately
// appear under two types (see the package doc).
type blobKey struct {
	t  BlobType
	id ID
}

// Writer streams blobs to w and ends them with the header and trailer. The
// pack's id is hashed on the way out, so the caller never has to read the
// pack back to name it. A Writer is not safe for concurrent use.
type Writer struct {
	out      io.Writer // w, teed through sum
	sum      hash.Hash
	entries  []Entry
	seen     map[blobKey]struct{}
	size     int64
	err      error // sticky: after a failed write the pack is unusable
	finished bool
}

// NewWriter starts a pack written to w.
func NewWriter(w io.Writer) *Writer {
	sum := sha256.New()
	return &Writer{
		out:  io.MultiWriter(sum, w),
		sum:  sum,
		seen: make(map[blobKey]struct{}),
	}
}

// Add appends one blob: stored is written as is, rawLength is recorded for
// the index. It refuses an invalid type, an empty blob, a (type, id) already
// in this pack (the caller dedups; a duplicate is a caller bug) and more than
// MaxEntries blobs. After a write error every call returns that error.
func (w *Writer) Add(t BlobType, id ID, rawLength uint64, stored []byte) error {
	return w.AddFrom(t, id, rawLength, bytes.NewReader(stored), int64(len(stored)))
}

// AddFrom is Add for a blob whose n stored bytes are read from r (a large
// blob spooled to a file need not be in memory). Reading fewer than n bytes
// makes the pack unusable, as a failed write does.
func (w *Writer) AddFrom(t BlobType, id ID, rawLength uint64, r io.Reader, n int64) error {
	if err := w.usable(); err != nil {
		return err
	}
	switch {
	case !t.Valid():
		return fmt.Errorf("pack: add %s: invalid blob type %d", id, uint8(t))
	case n <= 0:
		return fmt.Errorf("pack: add %s blob %s: no stored bytes", t, id)
	case len(w.entries) >= MaxEntries:
		return fmt.Errorf("pack: add %s blob %s: pack already holds %d blobs, the maximum", t, id, MaxEntries)
	}
	key := blobKey{t, id}
	if _, dup := w.seen[key]; dup {
		return fmt.Errorf("pack: add %s blob %s: already in this pack", t, id)
	}
	if m, err := io.CopyN(w.out, r, n); err != nil {
		w.err = fmt.Errorf("pack: write %s blob %s (%d of %d bytes): %w", t, id, m, n, err)
		return w.err
	}
	w.seen[key] = struct{}{}
	w.entries = append(w.entries, Entry{
		Type:      t,
		ID:        id,
		Offset:    uint64(w.size),
		Length:    uint64(n),
		RawLength: rawLength,
	})
	w.size += n
	return nil
}

func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.finished {
		return ErrFinished
	}
	return nil
}

// Count is the number of blobs added so far.
func (w *Writer) Count() int { return len(w.entries) }

// Size is the number of blob bytes written so far; the header and trailer
// Finish adds are not included. Callers use it to decide when a pack is full.
func (w *Writer) Size() int64 { return w.size }

// Entries returns a copy of the entries added so far, in pack order.
func (w *Writer) Entries() []Entry { return append([]Entry(nil), w.entries...) }

// Finish writes the header and trailer and returns the pack's id (SHA-256 of
// all its bytes) and total size. A pack without blobs is refused: it would
// be an object that names nothing. The Writer cannot be used afterwards.
func (w *Writer) Finish() (packID ID, total int64, err error) {
	if err := w.usable(); err != nil {
		return ID{}, 0, err
	}
	if len(w.entries) == 0 {
		return ID{}, 0, errors.New("pack: finish: no blobs (an empty pack is invalid)")
	}
	w.finished = true
	header := appendHeader(nil, w.entries)
	end := appendTrailer(header, header) // header then trailer, one write
	if _, err := w.out.Write(end); err != nil {
		w.err = fmt.Errorf("pack: write header: %w", err)
		return ID{}, 0, w.err
	}
	copy(packID[:], w.sum.Sum(nil))
	return packID, w.size + int64(len(end)), nil
}

// HeaderSize is the encoded size of the header of a pack holding entries
// (one canonical encoding: a checker derives a pack's exact size from its
// index entries).
func HeaderSize(entries []Entry) int64 { return int64(len(appendHeader(nil, entries))) }

// appendHeader appends the encoded header of entries to b. It trusts
// entries; the Writer built them.
func appendHeader(b []byte, entries []Entry) []byte {
	b = append(b, headerMagic...)
	b = append(b, Version)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		b = append(b, byte(e.Type))
		b = append(b, e.ID[:]...)
		b = binary.AppendUvarint(b, e.Offset)
		b = binary.AppendUvarint(b, e.Length)
		b = binary.AppendUvarint(b, e.RawLength)
	}
	return b
}

// appendTrailer appends the trailer that locates and checks header to b.
func appendTrailer(b, header []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(header, castagnoli))
	return append(b, trailerMagic...)
}
