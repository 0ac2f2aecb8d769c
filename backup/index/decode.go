package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// srcReader remembers the first error of the underlying reader, so that a
// failing network read is reported as such and not as a corrupt file.
type srcReader struct {
	r   io.Reader
	err error
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// decoder parses the decompressed stream of one index file.
type decoder struct {
	src     *srcReader
	limit   int64 // of the decompressed stream
	r       *bufio.Reader
	entries []Entry // reused between packs
	packs   int     // records read, for error messages
}

func (d *decoder) run(fn func(pack ID, entries []Entry) error) error {
	var hdr [len(magic) + 1]byte
	if _, err := io.ReadFull(d.r, hdr[:]); err != nil {
		return d.fail("header", err)
	}
	if string(hdr[:len(magic)]) != magic {
		return fmt.Errorf("index: %w: not an index file (magic %q)", ErrCorrupt, hdr[:len(magic)])
	}
	if hdr[len(magic)] != version {
		return fmt.Errorf("index: %w: version %d, this program reads version %d", ErrCorrupt, hdr[len(magic)], version)
	}
	for ; ; d.packs++ {
		var pack ID
		if _, err := io.ReadFull(d.r, pack[:]); err != nil {
			// EOF here is a clean record boundary, but the terminator is
			// missing: a truncated file, not an empty one.
			return d.fail("pack id", err)
		}
		count, err := binary.ReadUvarint(d.r)
		if err != nil {
			return d.fail("entry count", err)
		}
		if pack.IsZero() {
			return d.end(count)
		}
		if count == 0 || count > MaxEntriesPerPack {
			return fmt.Errorf("index: %w: pack %s has %d entries, want 1..%d", ErrCorrupt, pack, count, MaxEntriesPerPack)
		}
		if err := d.readEntries(pack, int(count)); err != nil {
			return err
		}
		if err := fn(pack, d.entries); err != nil {
			return err
		}
	}
}

// end checks the terminator record and that nothing follows it.
func (d *decoder) end(count uint64) error {
	if count != 0 {
		return fmt.Errorf("index: %w: zero pack id with %d entries", ErrCorrupt, count)
	}
	_, err := d.r.ReadByte()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return fmt.Errorf("index: %w: data after the end record", ErrCorrupt)
	default:
		return d.fail("end", err)
	}
}

// readEntries reads count entries into d.entries. The slice grows as
// entries arrive rather than by the declared count, so a lying count costs
// no more memory than the data that backs it.
func (d *decoder) readEntries(pack ID, count int) error {
	d.entries = d.entries[:0]
	for range count {
		var e Entry
		t, err := d.r.ReadByte()
		if err == nil {
			e.Type = t
			_, err = io.ReadFull(d.r, e.ID[:])
		}
		if err == nil {
			e.Offset, err = binary.ReadUvarint(d.r)
		}
		if err == nil {
			e.Length, err = binary.ReadUvarint(d.r)
		}
		if err == nil {
			e.RawLength, err = binary.ReadUvarint(d.r)
		}
		if err != nil {
			return d.fail(fmt.Sprintf("pack %s entry %d", pack, len(d.entries)), err)
		}
		if !validType(e.Type) {
			return fmt.Errorf("index: %w: pack %s blob %s has invalid type %d", ErrCorrupt, pack, e.ID, e.Type)
		}
		d.entries = append(d.entries, e)
	}
	return nil
}

// fail classifies a read error at what: the source failing, the stream
// ending early, or anything else (bad zstd data, an overlong varint, a
// stream past MaxFileSize) as corruption.
func (d *decoder) fail(what string, err error) error {
	where := fmt.Sprintf("%s (record %d)", what, d.packs)
	switch {
	case d.src.err != nil:
		return fmt.Errorf("index: read %s: %w", where, d.src.err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("index: %w: ends inside %s", ErrTruncated, where)
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("index: %w: larger than %d bytes decompressed", ErrCorrupt, d.limit)
	default:
		return fmt.Errorf("index: %w: %s: %v", ErrCorrupt, where, err)
	}
}
