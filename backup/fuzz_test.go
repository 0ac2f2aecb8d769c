package backup

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// FuzzParseChunkList: any input is refused or yields references whose
// encoding round-trips; never a panic or an allocation larger than the input.
func FuzzParseChunkList(f *testing.F) {
	good := binary.AppendUvarint([]byte(chunkListMagic), 2)
	good = append(good, bytes.Repeat([]byte{1}, 32)...)
	good = binary.AppendUvarint(good, 1<<20)
	good = append(good, bytes.Repeat([]byte{2}, 32)...)
	good = binary.AppendUvarint(good, 5)
	f.Add(good)
	f.Add([]byte(chunkListMagic))
	f.Add(binary.AppendUvarint([]byte(chunkListMagic), 1<<40))
	f.Add(append(good, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := parseChunkList(b)
		if err != nil {
			return
		}
		out := binary.AppendUvarint([]byte(chunkListMagic), uint64(len(refs)))
		for _, r := range refs {
			out = append(out, r.id[:]...)
			out = binary.AppendUvarint(out, r.len)
		}
		if len(out) > len(b) {
			t.Fatalf("accepted %d bytes that re-encode to %d", len(b), len(out))
		}
	})
}

// FuzzSegmentRecords: a segment's records from any JSON either apply or
// fail with an error; applied state only holds items with valid hashes.
func FuzzSegmentRecords(f *testing.F) {
	f.Add([]byte(`{"v":2,"kind":"delta","records":[{"t":"put","id":"1","hash":"` + sha256hex([]byte("x")) + `","size":1},{"t":"meta","id":"1","meta":{"f":1}},{"t":"del","id":"2"},{"t":"reset"}]}`))
	f.Add([]byte(`{"kind":"base","pages":["zz"]}`))
	f.Add([]byte(`{"records":[{"t":"put","id":"","hash":"00"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var doc segmentDoc
		if json.Unmarshal(b, &doc) != nil {
			return
		}
		st := newContainerState("x")
		for _, r := range doc.Records {
			if st.apply(r) != nil {
				return
			}
		}
		for id, it := range st.Items {
			if id == "" || !validHash(it.Hash) || it.Size < 0 {
				t.Fatalf("invalid item accepted: %+v", it)
			}
		}
	})
}

// FuzzKeyParsers: the parser of snapshot key names.
func FuzzKeyParsers(f *testing.F) {
	f.Add("snapshots/20261207T235959.123456789Z-abcdef.json.zst")
	f.Add("snapshots/x-.json.zst")
	f.Fuzz(func(t *testing.T, key string) {
		ts, id, ok := snapshotKeyParts(key)
		if !ok {
			return
		}
		// What was accepted names the same snapshot once written back.
		again := snapshotPrefix + ts.UTC().Format(snapshotTimeFormat) + "-" + id + ".json.zst"
		if ts2, id2, ok2 := snapshotKeyParts(again); !ok2 || !ts2.Equal(ts) || id2 != id {
			t.Fatalf("snapshotKeyParts(%q) = %v %q, but its canonical key %q parses as %v %q %v", key, ts, id, again, ts2, id2, ok2)
		}
	})
}
