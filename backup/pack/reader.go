package pack

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// ParseTrailer reads the trailer at the end of tail, which is the end of a
// pack of packSize bytes (it may be longer than TrailerSize, so a caller can
// read a generous tail once and often find the header already in it). It
// returns the header's length and CRC-32C after checking that the header
// fits in the pack with room for at least one blob before it.
func ParseTrailer(tail []byte, packSize int64) (headerLen uint32, crc uint32, err error) {
	if len(tail) < TrailerSize {
		return 0, 0, corrupt("pack trailer: %d bytes, want %d (truncated pack?)", len(tail), TrailerSize)
	}
	if int64(len(tail)) > packSize {
		return 0, 0, corrupt("pack trailer: tail of %d bytes is longer than the pack (%d bytes)", len(tail), packSize)
	}
	t := tail[len(tail)-TrailerSize:]
	if magic := string(t[8:]); magic != trailerMagic {
		return 0, 0, corrupt("pack trailer: magic %q, want %q (not a pack, or truncated)", magic, trailerMagic)
	}
	headerLen = binary.LittleEndian.Uint32(t[0:4])
	crc = binary.LittleEndian.Uint32(t[4:8])
	if err := checkHeaderLen("pack trailer", int64(headerLen), packSize); err != nil {
		return 0, 0, err
	}
	return headerLen, crc, nil
}

// checkHeaderLen bounds a header length before anything is allocated for it.
func checkHeaderLen(where string, n, packSize int64) error {
	const smallest = minHeaderSize + minEntrySize // one entry
	switch {
	case n < smallest:
		return corrupt("%s: header length %d is below the minimum %d", where, n, smallest)
	case n > MaxHeaderSize:
		return corrupt("%s: header length %d exceeds the maximum %d", where, n, MaxHeaderSize)
	case n+TrailerSize > packSize:
		return corrupt("%s: header length %d plus the %d-byte trailer is larger than the pack (%d bytes)", where, n, TrailerSize, packSize)
	case n+TrailerSize == packSize:
		return corrupt("%s: header length %d leaves no room for blobs in a pack of %d bytes", where, n, packSize)
	}
	return nil
}

// DecodeHeader checks and decodes header b of a pack of packSize bytes whose
// trailer carries crc. Nothing in b is believed before the CRC matches, and
// nothing is allocated from the entry count before the count is bounded by
// the bytes present. The entries it returns cover the blob area exactly:
// contiguous from offset 0 up to the header, each (type, id) once.
func DecodeHeader(b []byte, crc uint32, packSize int64) ([]Entry, error) {
	if err := checkHeaderLen("pack header", int64(len(b)), packSize); err != nil {
		return nil, err
	}
	if got := crc32.Checksum(b, castagnoli); got != crc {
		return nil, corrupt("pack header: CRC-32C %08x, trailer says %08x (damaged header)", got, crc)
	}
	if magic := string(b[:len(headerMagic)]); magic != headerMagic {
		return nil, corrupt("pack header: magic %q, want %q", magic, headerMagic)
	}
	if v := b[len(headerMagic)]; v != Version {
		return nil, corrupt("pack header: version %d, this program reads version %d", v, Version)
	}
	d := headerDecoder{b: b, pos: len(headerMagic) + 1}
	count, err := d.count()
	if err != nil {
		return nil, err
	}
	blobsEnd := uint64(packSize) - uint64(len(b)) - TrailerSize
	entries := make([]Entry, 0, count)
	seen := make(map[blobKey]struct{}, count)
	var end uint64 // where the previous blob ended: the next one starts here
	for i := range int(count) {
		e, err := d.entry(i)
		if err != nil {
			return nil, err
		}
		if err := checkPlacement(i, e, end, blobsEnd); err != nil {
			return nil, err
		}
		key := blobKey{e.Type, e.ID}
		if _, dup := seen[key]; dup {
			return nil, corrupt("pack header: entry %d: %s blob %s appears twice", i, e.Type, e.ID)
		}
		seen[key] = struct{}{}
		entries = append(entries, e)
		end = e.Offset + e.Length
	}
	if rest := len(b) - d.pos; rest != 0 {
		return nil, corrupt("pack header: %d bytes of trailing garbage after entry %d", rest, count-1)
	}
	if end != blobsEnd {
		return nil, corrupt("pack header: blobs end at %d but the header starts at %d (%d unaccounted bytes)", end, blobsEnd, blobsEnd-end)
	}
	return entries, nil
}

// checkPlacement checks entry i against the end of the previous blob and the
// start of the header. Lengths are compared by subtraction, so no sum can
// wrap around.
func checkPlacement(i int, e Entry, prevEnd, blobsEnd uint64) error {
	switch {
	case !e.Type.Valid():
		return corrupt("pack header: entry %d: invalid blob type %d", i, uint8(e.Type))
	case e.Length == 0:
		return corrupt("pack header: entry %d: %s blob %s has length 0", i, e.Type, e.ID)
	case i == 0 && e.Offset != 0:
		return corrupt("pack header: entry 0: offset %d, want 0 (blobs start at the beginning of the pack)", e.Offset)
	case e.Offset < prevEnd:
		return corrupt("pack header: entry %d: offset %d overlaps previous blob ending at %d", i, e.Offset, prevEnd)
	case e.Offset > prevEnd:
		return corrupt("pack header: entry %d: offset %d leaves a gap after previous blob ending at %d", i, e.Offset, prevEnd)
	case e.Offset >= blobsEnd || e.Length > blobsEnd-e.Offset:
		return corrupt("pack header: entry %d: blob at offset %d of length %d runs past the header at %d", i, e.Offset, e.Length, blobsEnd)
	}
	return nil
}

// headerDecoder walks a header whose CRC already matched.
type headerDecoder struct {
	b   []byte
	pos int
}

// count reads the entry count and bounds it by the bytes that follow, so a
// forged count cannot make DecodeHeader allocate more than the header size.
func (d *headerDecoder) count() (uint64, error) {
	count, err := d.uvarint()
	if err != nil {
		return 0, corrupt("pack header: entry count: %v", err)
	}
	switch rest := uint64(len(d.b) - d.pos); {
	case count == 0:
		return 0, corrupt("pack header: no entries (an empty pack is invalid)")
	case count > MaxEntries:
		return 0, corrupt("pack header: count %d exceeds the maximum %d", count, MaxEntries)
	case count > rest/minEntrySize:
		return 0, corrupt("pack header: count %d needs at least %d bytes of entries, %d remain", count, count*minEntrySize, rest)
	}
	return count, nil
}

// entry reads entry i.
func (d *headerDecoder) entry(i int) (Entry, error) {
	var e Entry
	if len(d.b)-d.pos < 1+len(e.ID) {
		return e, corrupt("pack header: entry %d: truncated at byte %d", i, d.pos)
	}
	e.Type = BlobType(d.b[d.pos])
	copy(e.ID[:], d.b[d.pos+1:])
	d.pos += 1 + len(e.ID)
	// Plain values, not pointers into e: pointers would move e to the heap,
	// one allocation per entry.
	var v [3]uint64
	for j, name := range [...]string{"offset", "length", "raw length"} {
		var err error
		if v[j], err = d.uvarint(); err != nil {
			return e, corrupt("pack header: entry %d: %s: %v", i, name, err)
		}
	}
	e.Offset, e.Length, e.RawLength = v[0], v[1], v[2]
	return e, nil
}

// uvarint reads one minimal uvarint: binary.Uvarint also accepts padded
// encodings, which would give one header several byte forms.
func (d *headerDecoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b[d.pos:])
	switch {
	case n == 0:
		return 0, fmt.Errorf("truncated uvarint at byte %d", d.pos)
	case n < 0:
		return 0, fmt.Errorf("uvarint overflows 64 bits at byte %d", d.pos)
	case n > 1 && d.b[d.pos+n-1] == 0:
		return 0, fmt.Errorf("uvarint not in its minimal encoding at byte %d", d.pos)
	}
	d.pos += n
	return v, nil
}

// ReadHeader reads a pack's entries with two ranged reads: the trailer, then
// the header it locates. readAt(off, n) must return exactly n bytes at off
// of the pack, whose size is packSize. It is how an index is rebuilt from
// packs alone. Damage is reported as ErrCorrupt, failed reads are not.
func ReadHeader(readAt func(off, n int64) ([]byte, error), packSize int64) ([]Entry, error) {
	if packSize < TrailerSize {
		return nil, corrupt("pack: %d bytes, shorter than its %d-byte trailer", packSize, TrailerSize)
	}
	tail, err := readExactly(readAt, packSize-TrailerSize, TrailerSize)
	if err != nil {
		return nil, fmt.Errorf("pack: read trailer: %w", err)
	}
	headerLen, crc, err := ParseTrailer(tail, packSize)
	if err != nil {
		return nil, err
	}
	n := int64(headerLen)
	header, err := readExactly(readAt, packSize-TrailerSize-n, n)
	if err != nil {
		return nil, fmt.Errorf("pack: read header: %w", err)
	}
	return DecodeHeader(header, crc, packSize)
}

func readExactly(readAt func(off, n int64) ([]byte, error), off, n int64) ([]byte, error) {
	b, err := readAt(off, n)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != n {
		return nil, fmt.Errorf("%d bytes at offset %d, want %d: %w", len(b), off, n, io.ErrUnexpectedEOF)
	}
	return b, nil
}

// ReadBlob returns the stored bytes of e from a pack read through r (a
// bytes.Reader over a whole pack, an *os.File).
func ReadBlob(r io.ReaderAt, e Entry) ([]byte, error) {
	if e.Offset > math.MaxInt64 || e.Length > math.MaxInt64-e.Offset || e.Length > math.MaxInt {
		return nil, fmt.Errorf("pack: read %s blob %s: offset %d length %d out of range", e.Type, e.ID, e.Offset, e.Length)
	}
	b := make([]byte, e.Length)
	n, err := r.ReadAt(b, int64(e.Offset))
	if n == len(b) {
		return b, nil // io.ReaderAt may say io.EOF along with the last byte
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("pack: read %s blob %s at %d (%d bytes): %w", e.Type, e.ID, e.Offset, e.Length, err)
}
