package pack

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// blob is one blob a test adds to a pack.
type blob struct {
	t      BlobType
	id     ID
	raw    uint64
	stored []byte
}

// testBlobs returns n blobs of varying sizes cycling through the types.
func testBlobs(n int) []blob {
	blobs := make([]blob, n)
	for i := range blobs {
		stored := bytes.Repeat([]byte{byte(i)}, 1+i%300)
		blobs[i] = blob{
			t:      BlobType(1 + i%3),
			id:     Hash(fmt.Appendf(nil, "blob %d", i)),
			raw:    uint64(i) * 1000,
			stored: stored,
		}
	}
	return blobs
}

// writePack writes blobs into a pack and checks what the Writer reports
// against the bytes it wrote.
func writePack(t testing.TB, blobs []blob) ([]byte, []Entry) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var size int64
	for i, b := range blobs {
		if err := w.Add(b.t, b.id, b.raw, b.stored); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
		size += int64(len(b.stored))
		if w.Count() != i+1 || w.Size() != size {
			t.Fatalf("after Add %d: Count %d Size %d, want %d %d", i, w.Count(), w.Size(), i+1, size)
		}
	}
	entries := w.Entries()
	packID, total, err := w.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	p := buf.Bytes()
	if total != int64(len(p)) {
		t.Fatalf("Finish says %d bytes, wrote %d", total, len(p))
	}
	if want := ID(sha256.Sum256(p)); packID != want {
		t.Fatalf("pack id %s, SHA-256 of the bytes written is %s", packID, want)
	}
	return p, entries
}

func TestBlobTypeString(t *testing.T) {
	tests := map[BlobType]string{0: "BlobType(0)", Data: "data", Tree: "tree", ChunkList: "chunklist", Data64: "data64", 5: "BlobType(5)", 255: "BlobType(255)"}
	for bt, want := range tests {
		if got := bt.String(); got != want {
			t.Errorf("BlobType(%d).String() = %q, want %q", uint8(bt), got, want)
		}
		if valid := want[0] != 'B'; bt.Valid() != valid {
			t.Errorf("BlobType(%d).Valid() = %v", uint8(bt), bt.Valid())
		}
	}
}

func TestIDRoundTrip(t *testing.T) {
	id := Hash([]byte("hello"))
	const want = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	if id.String() != want {
		t.Fatalf("Hash(hello) = %s, want %s", id, want)
	}
	got, err := ParseID(want)
	if err != nil || got != id {
		t.Fatalf("ParseID(%s) = %s, %v", want, got, err)
	}
	if got, err := ParseID(strings.ToUpper(want)); err != nil || got != id {
		t.Errorf("ParseID of upper-case hex = %s, %v", got, err)
	}
	for _, bad := range []string{"", want[:63], want + "0", "g" + want[1:], want[:62] + " 4"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestWriterRefuses(t *testing.T) {
	id := Hash([]byte("x"))
	tests := []struct {
		name string
		add  func(w *Writer) error
		want string
	}{
		{"type 0", func(w *Writer) error { return w.Add(0, id, 1, []byte{1}) }, "invalid blob type 0"},
		{"type 5", func(w *Writer) error { return w.Add(5, id, 1, []byte{1}) }, "invalid blob type 5"},
		{"empty blob", func(w *Writer) error { return w.Add(Data, id, 0, nil) }, "no stored bytes"},
		{"duplicate", func(w *Writer) error {
			if err := w.Add(Tree, id, 1, []byte{1}); err != nil {
				return err
			}
			return w.Add(Tree, id, 2, []byte{2})
		}, "already in this pack"},
		{"too many", func(w *Writer) error {
			w.entries = make([]Entry, MaxEntries) // as if MaxEntries blobs were added
			return w.Add(Data, id, 1, []byte{1})
		}, "the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			before := w.Count()
			err := tt.add(w)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if tt.name != "too many" && tt.name != "duplicate" && (w.Count() != before || buf.Len() != 0) {
				t.Errorf("a refused Add changed the pack: Count %d, %d bytes", w.Count(), buf.Len())
			}
		})
	}
}

func TestWriterEmptyPack(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if _, _, err := w.Finish(); err == nil || !strings.Contains(err.Error(), "no blobs") {
		t.Fatalf("Finish of an empty pack: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("refused empty pack wrote %d bytes", buf.Len())
	}
}

func TestWriterAfterFinish(t *testing.T) {
	w := NewWriter(new(bytes.Buffer))
	if err := w.Add(Data, ID{1}, 1, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(Data, ID{2}, 1, []byte{1}); !errors.Is(err, ErrFinished) {
		t.Errorf("Add after Finish: %v, want ErrFinished", err)
	}
	if _, _, err := w.Finish(); !errors.Is(err, ErrFinished) {
		t.Errorf("second Finish: %v, want ErrFinished", err)
	}
}

// TestMaxEntrySize: the compile-time bound in pack.go assumes an entry is at
// most maxEntrySize bytes; check that against the encoder.
func TestMaxEntrySize(t *testing.T) {
	e := Entry{Type: Data, Offset: math.MaxUint64, Length: math.MaxUint64, RawLength: math.MaxUint64}
	if n := len(appendHeader(nil, []Entry{e})) - minHeaderSize; n != maxEntrySize {
		t.Fatalf("largest entry is %d bytes, maxEntrySize says %d", n, maxEntrySize)
	}
	if n := len(appendHeader(nil, []Entry{{Type: Data}})) - minHeaderSize; n != minEntrySize {
		t.Fatalf("smallest entry is %d bytes, minEntrySize says %d", n, minEntrySize)
	}
}

// failWriter accepts limit bytes, then fails.
type failWriter struct{ limit int }

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, errDisk
	}
	f.limit -= len(p)
	return len(p), nil
}

// TestWriterWriteError: a failed write poisons the Writer, so a pack with a
// hole is never finished.
func TestWriterWriteError(t *testing.T) {
	for _, limit := range []int{0, 5, 10} { // fail in the 1st blob, 2nd blob, header
		w := NewWriter(&failWriter{limit: limit})
		err1 := w.Add(Data, ID{1}, 5, []byte("hello"))
		err2 := w.Add(Data, ID{2}, 5, []byte("world"))
		_, _, err3 := w.Finish()
		if !errors.Is(err3, errDisk) {
			t.Errorf("limit %d: Finish: %v, want %v", limit, err3, errDisk)
		}
		if limit == 0 && (!errors.Is(err1, errDisk) || !errors.Is(err2, errDisk)) {
			t.Errorf("limit 0: Adds returned %v, %v; want the write error twice", err1, err2)
		}
	}
}

// TestGoldenBytes spells out a pack byte by byte from the spec in doc.go, so
// an accidental format change fails here even if writer and reader agree.
func TestGoldenBytes(t *testing.T) {
	var a, b ID
	for i := range a {
		a[i], b[i] = 0xaa, byte(i)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Add(Data, a, 300, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ChunkList, b, math.MaxUint64, []byte("de")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	header := []byte("Y3PH\x01\x02")
	header = append(header, 0x01)
	header = append(header, a[:]...)
	header = append(header, 0x00, 0x03, 0xac, 0x02) // offset 0, length 3, raw 300
	header = append(header, 0x03)
	header = append(header, b[:]...)
	header = append(header, 0x03, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
	want := append([]byte("abcde"), header...)
	// header length 88 = 0x58; CRC-32C of the header computed independently
	// with the standard table.
	want = append(want, 0x58, 0, 0, 0)
	c := crcC(header)
	want = append(want, byte(c), byte(c>>8), byte(c>>16), byte(c>>24))
	want = append(want, "Y360PAK2"...)
	if crcC([]byte("123456789")) != 0xe3069283 { // the CRC-32C check value
		t.Fatal("crcC is not CRC-32C")
	}
	if len(header) != 6+37+45 {
		t.Fatalf("test header is %d bytes, want 88", len(header))
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("pack bytes\n got %x\nwant %x", buf.Bytes(), want)
	}
}

// crcC is a bitwise CRC-32C (reflected polynomial 0x82f63b78), independent
// of hash/crc32, for the golden test.
func crcC(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82f63b78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}
