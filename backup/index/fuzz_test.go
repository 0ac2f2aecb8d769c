package index

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes, compressed and as a raw stream, to
// Decode: it must not panic, must classify every failure, and whatever it
// accepts must encode back to a file that decodes to the same packs. The seed
// corpus runs as a normal test in CI.
func FuzzDecode(f *testing.F) {
	good := encode(f, testPacks(11, 3, 4))
	raw := decompress(f, good)
	f.Add(good)
	f.Add(raw)
	f.Add(encode(f, nil))
	f.Add(good[:len(good)/2])
	f.Add(raw[:len(raw)-1])
	f.Add([]byte{})
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Raw bytes exercise the parser (zstd would refuse nearly all of
		// them); compressed they also pass through the decompressor.
		for _, in := range [][]byte{b, zstdBytes(b)} {
			checkDecode(t, in)
		}
	})
}

func checkDecode(t *testing.T, in []byte) {
	var packs []packRec
	err := Decode(bytes.NewReader(in), func(pack ID, entries []Entry) error {
		if pack.IsZero() || len(entries) == 0 || len(entries) > MaxEntriesPerPack {
			t.Fatalf("callback got pack %s with %d entries", pack, len(entries))
		}
		for _, e := range entries {
			if !validType(e.Type) {
				t.Fatalf("callback got type %d", e.Type)
			}
		}
		packs = append(packs, packRec{pack, append([]Entry(nil), entries...)})
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("unclassified error: %v", err)
		}
		return
	}
	again, err := decodeAll(encode(t, packs))
	if err != nil || (len(packs) > 0 && !reflect.DeepEqual(again, packs)) || len(again) != len(packs) {
		t.Fatalf("re-encoding an accepted file does not round-trip: %v", err)
	}
}
