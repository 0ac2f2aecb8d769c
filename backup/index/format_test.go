package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

type packRec struct {
	Pack    ID
	Entries []Entry
}

func randID(r *rand.Rand) ID {
	var id ID
	for i := 0; i < len(id); i += 8 {
		binary.LittleEndian.PutUint64(id[i:], r.Uint64())
	}
	return id
}

// testPacks makes n packs with 1..maxEntries random entries each, including
// extreme field values.
func testPacks(seed uint64, n, maxEntries int) []packRec {
	r := rand.New(rand.NewPCG(seed, 1))
	var packs []packRec
	for range n {
		p := packRec{Pack: randID(r)}
		for range 1 + r.IntN(maxEntries) {
			p.Entries = append(p.Entries, Entry{Type: uint8(1 + r.IntN(3)), ID: randID(r),
				Offset: r.Uint64() >> r.IntN(64), Length: r.Uint64() >> r.IntN(64), RawLength: r.Uint64() >> r.IntN(64)})
		}
		packs = append(packs, p)
	}
	if n > 0 {
		packs[0].Entries[0].Offset, packs[0].Entries[0].Length, packs[0].Entries[0].RawLength = math.MaxUint64, 0, math.MaxUint64
	}
	return packs
}

func encode(t testing.TB, packs []packRec) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	for _, p := range packs {
		if err := e.AddPack(p.Pack, p.Entries); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeAll(b []byte) ([]packRec, error) {
	var packs []packRec
	err := Decode(bytes.NewReader(b), func(pack ID, entries []Entry) error {
		packs = append(packs, packRec{pack, append([]Entry(nil), entries...)})
		return nil
	})
	return packs, err
}

// zstdBytes compresses a raw (decompressed) index stream, for hand-made files.
func zstdBytes(raw []byte) []byte { return testZ.EncodeAll(raw, nil) }

var testZ, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))

func decompress(t testing.TB, b []byte) []byte {
	d, _ := zstd.NewReader(nil)
	raw, err := d.DecodeAll(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 50} {
		packs := testPacks(uint64(n), n, 300)
		got, err := decodeAll(encode(t, packs))
		if err != nil {
			t.Fatalf("%d packs: %v", n, err)
		}
		if len(got) != n || (n > 0 && !reflect.DeepEqual(got, packs)) {
			t.Fatalf("%d packs: round trip differs", n)
		}
	}
}

// A pack bigger than the encoder's buffer is written in slices and read back whole.
func TestRoundTripBigPack(t *testing.T) {
	packs := testPacks(7, 1, 1)
	r := rand.New(rand.NewPCG(7, 7))
	for range 20000 {
		packs[0].Entries = append(packs[0].Entries, Entry{Type: TypeChunkList, ID: randID(r), Offset: r.Uint64(), Length: 1, RawLength: 2})
	}
	got, err := decodeAll(encode(t, packs))
	if err != nil || !reflect.DeepEqual(got, packs) {
		t.Fatalf("big pack: err %v, equal %v", err, reflect.DeepEqual(got, packs))
	}
}

func TestEncoderRefusesBadInput(t *testing.T) {
	e := NewEncoder(io.Discard)
	var pack ID
	pack[0] = 1
	for name, c := range map[string]struct {
		pack    ID
		entries []Entry
	}{
		"zero pack":  {ID{}, []Entry{{Type: TypeData}}},
		"no entries": {pack, nil},
		"bad type":   {pack, []Entry{{Type: 5}}},
		"type zero":  {pack, []Entry{{Type: 0}}},
	} {
		if err := e.AddPack(c.pack, c.entries); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("refused input must not break the encoder: %v", err)
	}
	if err := e.AddPack(pack, []Entry{{Type: TypeData}}); err == nil {
		t.Fatal("AddPack after Close accepted")
	}
}

// Every proper prefix of a file, compressed or not, is refused as truncated
// or corrupt; none decodes as a smaller complete index.
func TestTruncatedRefused(t *testing.T) {
	file := encode(t, testPacks(3, 3, 4))
	raw := decompress(t, file)
	for i := range raw {
		_, err := decodeAll(zstdBytes(raw[:i]))
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("raw prefix %d/%d: got %v, want ErrTruncated", i, len(raw), err)
		}
	}
	for i := range file {
		_, err := decodeAll(file[:i])
		if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("compressed prefix %d/%d: got %v", i, len(file), err)
		}
	}
}

func TestCorruptRefused(t *testing.T) {
	good := decompress(t, encode(t, testPacks(4, 2, 3)))
	// Offsets into the first record: header (5), pack id (32), count (1), entry type.
	entryType := len(magic) + 1 + 32 + 1
	cases := map[string][]byte{
		"bad magic":      append([]byte("Y3IY"), good[4:]...),
		"bad version":    append(append([]byte(magic), 2), good[5:]...),
		"bad type":       patch(good, entryType, 9),
		"count zero":     patch(good, entryType-1, 0),
		"trailing data":  append(bytes.Clone(good), 0),
		"zero pack rec":  append(append([]byte(magic), version), append(make([]byte, 32), 1)...),
		"count too high": append(append([]byte(magic), version, 1), append(make([]byte, 31), 0x81, 0x80, 0x80, 0x02)...),
		"varint overflow": append(append([]byte(magic), version, 1),
			append(make([]byte, 31), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)...),
	}
	for name, raw := range cases {
		if _, err := decodeAll(zstdBytes(raw)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
	for name, b := range map[string][]byte{"not zstd": []byte("hello, this is no index"), "raw stream": good} {
		if _, err := decodeAll(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v, want ErrCorrupt", name, err)
		}
	}
	// A flipped bit inside the compressed data is caught by zstd's checksum
	// or by the parser.
	file := encode(t, testPacks(5, 2, 3))
	if _, err := decodeAll(patch(file, len(file)/2, file[len(file)/2]^0x10)); err == nil {
		t.Error("bit flip accepted")
	}
}

func patch(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func TestDecompressedSizeLimit(t *testing.T) {
	packs := testPacks(6, 4, 10)
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	for _, p := range packs {
		if err := e.AddPack(p.Pack, p.Entries); err != nil {
			t.Fatal(err)
		}
	}
	sizeBeforeEnd := e.Size()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	size := int64(len(decompress(t, file)))
	if sizeBeforeEnd != size-33 { // the terminator: zero pack id and count 0
		t.Fatalf("Size() = %d before Close, file is %d bytes", sizeBeforeEnd, size)
	}
	if err := decode(bytes.NewReader(file), size, func(ID, []Entry) error { return nil }); err != nil {
		t.Fatalf("file of exactly the limit: %v", err)
	}
	err := decode(bytes.NewReader(file), size-1, func(ID, []Entry) error { return nil })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("file over the limit: %v", err)
	}
}

func TestDecodeCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Decode(bytes.NewReader(encode(t, testPacks(8, 5, 2))), func(ID, []Entry) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

type failingReader struct{ r io.Reader }

var errNetwork = errors.New("connection reset")

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errNetwork
	}
	return n, err
}

// A failing source is reported as a read error, not as a corrupt file.
func TestSourceErrorIsNotCorruption(t *testing.T) {
	file := encode(t, testPacks(9, 3, 5))
	err := Decode(failingReader{bytes.NewReader(file[:len(file)/2])}, func(ID, []Entry) error { return nil })
	if !errors.Is(err, errNetwork) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTruncated) {
		t.Fatalf("got %v", err)
	}
}
