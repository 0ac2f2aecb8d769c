package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// readerOf serves ranged reads of p the way a sink's ranged GET would.
func readerOf(p []byte) func(off, n int64) ([]byte, error) {
	return func(off, n int64) ([]byte, error) {
		if off < 0 || off > int64(len(p)) {
			return nil, io.EOF
		}
		return p[off:min(off+n, int64(len(p)))], nil
	}
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	tests := []struct {
		name  string
		blobs []blob
	}{
		{"one data blob", []blob{{Data, ID{1}, 1, []byte("x")}}},
		{"one tree blob", []blob{{Tree, ID{2}, 100, []byte("tree")}}},
		{"one chunk list", []blob{{ChunkList, ID{3}, 1 << 40, []byte("chunks")}}},
		{"raw length 0", []blob{{Data, ID{4}, 0, []byte{0x28, 0xb5, 0x2f, 0xfd}}}},
		{"raw length max", []blob{{Data, ID{5}, math.MaxUint64, []byte("a")}, {Tree, ID{6}, 1 << 63, []byte("b")}}},
		{"large blob", []blob{{Data, ID{7}, uint64(len(big)), big}, {Data, ID{8}, 1, []byte("z")}}},
		{"many blobs", testBlobs(3000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, written := writePack(t, tt.blobs)
			entries, err := ReadHeader(readerOf(p), int64(len(p)))
			if err != nil {
				t.Fatalf("ReadHeader: %v", err)
			}
			if len(entries) != len(tt.blobs) || len(written) != len(tt.blobs) {
				t.Fatalf("%d entries read, %d written, want %d", len(entries), len(written), len(tt.blobs))
			}
			for i, b := range tt.blobs {
				e := entries[i]
				if e != written[i] || e.Type != b.t || e.ID != b.id || e.RawLength != b.raw || e.Length != uint64(len(b.stored)) {
					t.Fatalf("entry %d: read %+v, writer said %+v, added %v %s %d (%d bytes)", i, e, written[i], b.t, b.id, b.raw, len(b.stored))
				}
				got, err := ReadBlob(bytes.NewReader(p), e)
				if err != nil || !bytes.Equal(got, b.stored) {
					t.Fatalf("ReadBlob %d: %v, %d bytes, want %d", i, err, len(got), len(b.stored))
				}
			}
			// The canonical encoding: re-encoding what was read gives the header back.
			hl, _, err := ParseTrailer(p[len(p)-TrailerSize:], int64(len(p)))
			if err != nil {
				t.Fatal(err)
			}
			header := p[len(p)-TrailerSize-int(hl) : len(p)-TrailerSize]
			if !bytes.Equal(appendHeader(nil, entries), header) {
				t.Fatal("re-encoded header differs")
			}
		})
	}
}

// forge builds a pack of blobsLen filler bytes followed by header and a
// trailer that matches it, so header checks run past the CRC.
func forge(blobsLen int, header []byte) []byte {
	p := bytes.Repeat([]byte{0xee}, blobsLen)
	p = append(p, header...)
	return appendTrailer(p, header)
}

// forgeEntries forges a pack whose header holds entries as given.
func forgeEntries(blobsLen int, entries ...Entry) []byte {
	return forge(blobsLen, appendHeader(nil, entries))
}

// rawHeader builds a header from the prefix and hand-encoded entry bytes.
func rawHeader(count uint64, entryBytes ...[]byte) []byte {
	h := binary.AppendUvarint([]byte("Y3PH\x01"), count)
	for _, e := range entryBytes {
		h = append(h, e...)
	}
	return h
}

// rawEntry is a Data entry whose uvarints are given as raw bytes.
func rawEntry(id byte, varints ...byte) []byte {
	e := append([]byte{byte(Data)}, bytes.Repeat([]byte{id}, 32)...)
	return append(e, varints...)
}

func TestCorruption(t *testing.T) {
	good, _ := writePack(t, []blob{{Data, ID{1}, 10, []byte("aaaa")}, {Tree, ID{2}, 20, []byte("bbbbbb")}, {Data, ID{3}, 30, []byte("cc")}})
	headerStart := 12 // after the 12 blob bytes
	flip := func(i int) []byte {
		p := bytes.Clone(good)
		p[i] ^= 0x01
		return p
	}
	setTrailer := func(headerLen uint32) []byte {
		p := bytes.Clone(good)
		binary.LittleEndian.PutUint32(p[len(p)-TrailerSize:], headerLen)
		return p
	}
	e := func(t BlobType, id byte, off, length uint64) Entry {
		return Entry{Type: t, ID: ID{id}, Offset: off, Length: length, RawLength: 1}
	}
	tests := []struct {
		name string
		pack []byte
		want string
	}{
		{"flipped byte in header magic", flip(headerStart), "CRC-32C"},
		{"flipped byte in an entry id", flip(headerStart + 10), "CRC-32C"},
		{"flipped byte in the CRC", flip(len(good) - 12), "CRC-32C"},
		{"flipped byte in trailer magic", flip(len(good) - 1), `magic "Y360PAK3"`},
		{"truncated by one byte", good[:len(good)-1], "pack trailer: magic"},
		{"truncated to the trailer", good[len(good)-TrailerSize:], "larger than the pack"},
		{"shorter than a trailer", good[:10], "shorter than its 16-byte trailer"},
		{"empty", nil, "shorter than its 16-byte trailer"},
		{"extra byte at the end", append(bytes.Clone(good), 0), "pack trailer: magic"},
		{"header length larger than the pack", setTrailer(uint32(len(good))), "larger than the pack"},
		{"header length fills the pack", setTrailer(uint32(len(good) - TrailerSize)), "no room for blobs"},
		{"header length huge", setTrailer(math.MaxUint32), "exceeds the maximum"},
		{"header length 0", setTrailer(0), "below the minimum"},
		{"header length off by one", setTrailer(uint32(len(good)-TrailerSize-headerStart) + 1), "CRC-32C"},
		{"wrong header magic", forge(1, append([]byte("Y3PX\x01\x01"), rawEntry(1, 0, 1, 1)...)), `magic "Y3PX"`},
		{"wrong version", forge(1, append([]byte("Y3PH\x02\x01"), rawEntry(1, 0, 1, 1)...)), "version 2"},
		{"count 0", forge(1, append(rawHeader(0), rawEntry(1, 0, 1, 1)...)), "no entries"},
		{"count above the bytes", forge(1, rawHeader(2, rawEntry(1, 0, 1, 1))), "count 2 needs at least 72 bytes of entries, 36 remain"},
		{"count above MaxEntries", forge(1, rawHeader(MaxEntries+1, rawEntry(1, 0, 1, 1))), "exceeds the maximum 1048576"},
		{"count overflows", forge(1, append([]byte("Y3PH\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), rawEntry(1, 0, 1, 1)...)), "entry count: uvarint overflows 64 bits"},
		{"bad type 0", forgeEntries(1, e(0, 1, 0, 1)), "entry 0: invalid blob type 0"},
		{"bad type 5", forgeEntries(2, e(Data, 1, 0, 1), e(5, 2, 1, 1)), "entry 1: invalid blob type 5"},
		{"bad type 255", forgeEntries(1, e(255, 1, 0, 1)), "invalid blob type 255"},
		{"zero length", forgeEntries(1, e(Data, 1, 0, 1), e(Data, 2, 1, 0)), "entry 1: data blob 0200000000000000000000000000000000000000000000000000000000000000 has length 0"},
		{"first offset not 0", forgeEntries(3, e(Data, 1, 1, 2)), "entry 0: offset 1, want 0"},
		{"overlap", forgeEntries(5, e(Data, 1, 0, 3), e(Tree, 2, 2, 3)), "entry 1: offset 2 overlaps previous blob ending at 3"},
		{"same offset", forgeEntries(5, e(Data, 1, 0, 3), e(Tree, 2, 0, 5)), "entry 1: offset 0 overlaps previous blob ending at 3"},
		{"gap", forgeEntries(5, e(Data, 1, 0, 2), e(Data, 2, 3, 2)), "entry 1: offset 3 leaves a gap after previous blob ending at 2"},
		{"blob runs into the header", forgeEntries(5, e(Data, 1, 0, 3), e(Data, 2, 3, 3)), "entry 1: blob at offset 3 of length 3 runs past the header at 5"},
		{"blob length wraps", forgeEntries(5, e(Data, 1, 0, 3), e(Data, 2, 3, math.MaxUint64-1)), "runs past the header"},
		{"blobs end before the header", forgeEntries(7, e(Data, 1, 0, 3), e(Data, 2, 3, 3)), "blobs end at 6 but the header starts at 7"},
		{"duplicate", forgeEntries(2, e(Data, 1, 0, 1), e(Data, 1, 1, 1)), "entry 1: data blob 0100000000000000000000000000000000000000000000000000000000000000 appears twice"},
		{"trailing garbage", forge(1, append(rawHeader(1, rawEntry(1, 0, 1, 1)), 0)), "1 bytes of trailing garbage after entry 0"},
		{"non-minimal uvarint", forge(1, rawHeader(1, rawEntry(1, 0, 0x81, 0x00, 1))), "entry 0: length: uvarint not in its minimal encoding"},
		{"non-minimal count", forge(1, append([]byte("Y3PH\x01\x81\x00"), rawEntry(1, 0, 1, 1)...)), "entry count: uvarint not in its minimal encoding"},
		{"uvarint overflow", forge(1, rawHeader(1, rawEntry(1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02))), "entry 0: raw length: uvarint overflows 64 bits"},
		{"uvarint 11 bytes", forge(1, rawHeader(1, rawEntry(1, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))), "entry 0: raw length: uvarint overflows 64 bits"},
		{"truncated uvarint", forge(1, rawHeader(1, rawEntry(1, 0, 1, 0x81, 0x80, 0x80))), "entry 0: raw length: truncated uvarint"},
		{"truncated entry", forge(1, rawHeader(2, rawEntry(1, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), bytes.Repeat([]byte{1}, 30))), "entry 1: truncated at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHeader(readerOf(tt.pack), int64(len(tt.pack)))
			if err == nil {
				t.Fatalf("accepted, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %q does not match ErrCorrupt", err)
			}
		})
	}
}

// TestReadHeaderReadErrors: a failed or short read is not corruption, so the
// caller can retry it instead of declaring the pack damaged.
func TestReadHeaderReadErrors(t *testing.T) {
	good, _ := writePack(t, testBlobs(3))
	errNet := errors.New("connection reset")
	tests := []struct {
		name   string
		readAt func(off, n int64) ([]byte, error)
		size   int64
		want   error
	}{
		{"trailer read fails", func(off, n int64) ([]byte, error) { return nil, errNet }, int64(len(good)), errNet},
		{"header read fails", func(off, n int64) ([]byte, error) {
			if n == TrailerSize {
				return readerOf(good)(off, n)
			}
			return nil, errNet
		}, int64(len(good)), errNet},
		{"short header read", func(off, n int64) ([]byte, error) {
			b, err := readerOf(good)(off, n)
			return b[:len(b)-1], err
		}, int64(len(good)), io.ErrUnexpectedEOF},
		{"pack smaller than its size", readerOf(good[len(good)-TrailerSize-3:]), int64(len(good)), io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHeader(tt.readAt, tt.size)
			if !errors.Is(err, tt.want) || errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want %v and not ErrCorrupt", err, tt.want)
			}
		})
	}
}

func TestParseTrailer(t *testing.T) {
	good, _ := writePack(t, testBlobs(3))
	size := int64(len(good))
	want, wantCRC, err := ParseTrailer(good[len(good)-TrailerSize:], size)
	if err != nil {
		t.Fatal(err)
	}
	// A longer tail is fine: only its last TrailerSize bytes are the trailer.
	if hl, crc, err := ParseTrailer(good, size); err != nil || hl != want || crc != wantCRC {
		t.Errorf("whole pack as tail: %d %08x %v, want %d %08x", hl, crc, err, want, wantCRC)
	}
	if _, _, err := ParseTrailer(good[len(good)-TrailerSize+1:], size); err == nil || !strings.Contains(err.Error(), "15 bytes, want 16") {
		t.Errorf("15-byte tail: %v", err)
	}
	if _, _, err := ParseTrailer(good, size-1); err == nil || !strings.Contains(err.Error(), "longer than the pack") {
		t.Errorf("tail longer than the pack: %v", err)
	}
	if _, _, err := ParseTrailer(good[len(good)-TrailerSize:], -1); err == nil || !errors.Is(err, ErrCorrupt) {
		t.Errorf("negative pack size: %v", err)
	}
}

// TestDecodeHeaderPackSize: the header is only valid at the place the pack
// size puts it; a wrong size must not shift the blobs silently.
func TestDecodeHeaderPackSize(t *testing.T) {
	good, _ := writePack(t, testBlobs(3))
	size := int64(len(good))
	hl, crc, err := ParseTrailer(good, size)
	if err != nil {
		t.Fatal(err)
	}
	header := good[size-TrailerSize-int64(hl) : size-TrailerSize]
	if _, err := DecodeHeader(header, crc, size); err != nil {
		t.Fatal(err)
	}
	for _, s := range []int64{size - 1, size + 1, 0, -5, math.MaxInt64} {
		if _, err := DecodeHeader(header, crc, s); !errors.Is(err, ErrCorrupt) {
			t.Errorf("pack size %d instead of %d: %v", s, size, err)
		}
	}
	if _, err := DecodeHeader(header, crc^1, size); err == nil || !strings.Contains(err.Error(), "CRC-32C") {
		t.Errorf("wrong crc: %v", err)
	}
}

func TestReadBlobErrors(t *testing.T) {
	p := []byte("abcdef")
	if b, err := ReadBlob(bytes.NewReader(p), Entry{Type: Data, Offset: 2, Length: 4}); err != nil || string(b) != "cdef" {
		t.Fatalf("ReadBlob at the end: %q %v", b, err)
	}
	for _, e := range []Entry{
		{Type: Data, Offset: 4, Length: 3},
		{Type: Data, Offset: 7, Length: 1},
		{Type: Data, Offset: math.MaxUint64, Length: 1},
		{Type: Data, Offset: 1, Length: math.MaxInt64},
	} {
		if _, err := ReadBlob(bytes.NewReader(p), e); err == nil {
			t.Errorf("ReadBlob(%+v) of a 6-byte pack succeeded", e)
		}
	}
}

// TestWriterSameIDTwoTypes: a chunk list and a data blob may share an id (the
// chunk list's body can itself be a chunk of a larger body).
func TestWriterSameIDTwoTypes(t *testing.T) {
	id := Hash([]byte("body"))
	p, _ := writePack(t, []blob{{Data, id, 4, []byte("d")}, {ChunkList, id, 4, []byte("c")}})
	entries, err := ReadHeader(readerOf(p), int64(len(p)))
	if err != nil || len(entries) != 2 {
		t.Fatalf("ReadHeader: %v, %d entries", err, len(entries))
	}
}

// TestEveryBitFlipAndTruncation: no single-bit flip in the header or trailer
// and no truncation of a pack yields a header ReadHeader accepts.
func TestEveryBitFlipAndTruncation(t *testing.T) {
	good, _ := writePack(t, testBlobs(4))
	header, blobsLen := splitPack(t, good)
	for i := int(blobsLen); i < len(good); i++ {
		for bit := range 8 {
			p := bytes.Clone(good)
			p[i] ^= 1 << bit
			if _, err := ReadHeader(readerOf(p), int64(len(p))); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("bit %d of byte %d (header is %d bytes at %d) flipped: %v", bit, i, len(header), blobsLen, err)
			}
		}
	}
	for n := range len(good) {
		if _, err := ReadHeader(readerOf(good[:n]), int64(n)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("pack cut to %d of %d bytes: %v", n, len(good), err)
		}
	}
}
