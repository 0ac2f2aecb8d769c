package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
)

// splitPack returns a written pack's header and the length of its blobs.
func splitPack(t testing.TB, p []byte) (header []byte, blobsLen int64) {
	hl, _, err := ParseTrailer(p, int64(len(p)))
	if err != nil {
		t.Fatal(err)
	}
	blobsLen = int64(len(p)) - TrailerSize - int64(hl)
	return p[blobsLen : int64(len(p))-TrailerSize], blobsLen
}

// FuzzDecodeHeader feeds arbitrary headers to DecodeHeader. The CRC is the
// header's own unless crcXor is set, so the fuzzer spends its time in the
// parser rather than in front of the checksum. Whatever it accepts must be
// a valid table of contents whose encoding is exactly the input.
func FuzzDecodeHeader(f *testing.F) {
	for _, n := range []int{1, 2, 3, 40} {
		p, _ := writePack(f, testBlobs(n))
		header, blobsLen := splitPack(f, p)
		f.Add(header, blobsLen, uint32(0))
		f.Add(header, blobsLen+1, uint32(0))
		f.Add(header, blobsLen, uint32(1))
	}
	big, _ := writePack(f, []blob{{Data, ID{1}, math.MaxUint64, bytes.Repeat([]byte{1}, 1<<14)}, {Tree, ID{1}, 0, []byte{2}}})
	header, blobsLen := splitPack(f, big)
	f.Add(header, blobsLen, uint32(0))
	f.Add(rawHeader(2, rawEntry(1, 0, 1, 1)), int64(1), uint32(0))
	f.Add(rawHeader(1, rawEntry(1, 0, 0x81, 0x00, 1)), int64(1), uint32(0))
	f.Add(rawHeader(1, rawEntry(1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)), int64(1), uint32(0))
	f.Add(append([]byte("Y3PH\x01\xff\xff\xff\xff\x0f"), rawEntry(1, 0, 1, 1)...), int64(1), uint32(0))
	f.Add([]byte("Y3PH\x01"), int64(0), uint32(0))
	f.Fuzz(func(t *testing.T, header []byte, blobsLen int64, crcXor uint32) {
		crc := crc32.Checksum(header, castagnoli) ^ crcXor
		packSize := blobsLen + int64(len(header)) + TrailerSize // may wrap: DecodeHeader must cope
		entries, err := DecodeHeader(header, crc, packSize)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if crcXor != 0 {
			t.Fatalf("accepted a header with a wrong CRC (xor %08x)", crcXor)
		}
		checkEntries(t, entries, blobsLen)
		if enc := appendHeader(nil, entries); !bytes.Equal(enc, header) {
			t.Fatalf("accepted header is not canonical:\n in  %x\n out %x", header, enc)
		}
	})
}

// checkEntries checks the promises DecodeHeader makes about what it accepts.
func checkEntries(t *testing.T, entries []Entry, blobsLen int64) {
	t.Helper()
	if len(entries) == 0 || len(entries) > MaxEntries {
		t.Fatalf("accepted %d entries", len(entries))
	}
	seen := make(map[blobKey]bool)
	var end uint64
	for i, e := range entries {
		if !e.Type.Valid() || e.Length == 0 || e.Offset != end || seen[blobKey{e.Type, e.ID}] {
			t.Fatalf("accepted bad entry %d: %+v (previous blob ended at %d)", i, e, end)
		}
		seen[blobKey{e.Type, e.ID}] = true
		end += e.Length
		if end < e.Length || end > uint64(blobsLen) {
			t.Fatalf("entry %d ends at %d, past the blobs' end %d", i, end, blobsLen)
		}
	}
	if end != uint64(blobsLen) {
		t.Fatalf("entries end at %d, the header starts at %d", end, blobsLen)
	}
}

// FuzzParseTrailer feeds arbitrary tails and pack sizes to ParseTrailer.
// What it accepts must locate a header that fits in the pack with room for
// a blob, and be exactly the trailer Writer would write for it.
func FuzzParseTrailer(f *testing.F) {
	p, _ := writePack(f, testBlobs(3))
	f.Add(p[len(p)-TrailerSize:], int64(len(p)))
	f.Add(p, int64(len(p)))
	f.Add(p, int64(len(p)-1))
	f.Add(p[len(p)-TrailerSize+1:], int64(len(p)))
	f.Add(p[len(p)-TrailerSize:], int64(TrailerSize))
	f.Add(p[len(p)-TrailerSize:], int64(-1))
	f.Add(p[len(p)-TrailerSize:], int64(math.MaxInt64))
	huge := bytes.Clone(p[len(p)-TrailerSize:])
	binary.LittleEndian.PutUint32(huge, math.MaxUint32)
	f.Add(huge, int64(math.MaxInt64))
	f.Add([]byte("\x2a\x00\x00\x00\x00\x00\x00\x00Y360PAK2"), int64(42+TrailerSize+1))
	f.Fuzz(func(t *testing.T, tail []byte, packSize int64) {
		hl, crc, err := ParseTrailer(tail, packSize)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if int64(hl) < minHeaderSize+minEntrySize || hl > MaxHeaderSize || int64(hl)+TrailerSize >= packSize {
			t.Fatalf("accepted header length %d in a pack of %d bytes", hl, packSize)
		}
		if int64(len(tail)) > packSize {
			t.Fatalf("accepted a %d-byte tail of a %d-byte pack", len(tail), packSize)
		}
		want := binary.LittleEndian.AppendUint32(nil, hl)
		want = binary.LittleEndian.AppendUint32(want, crc)
		want = append(want, trailerMagic...)
		if got := tail[len(tail)-TrailerSize:]; !bytes.Equal(got, want) {
			t.Fatalf("trailer %x parsed as %d %08x, which encodes as %x", got, hl, crc, want)
		}
	})
}
