package pack

import (
	"fmt"
	"io"
	"testing"
)

// benchEntries is about the blob count of a full pack of small mails.
const benchEntries = 3000

// BenchmarkWriterAdd measures one Add (the SHA-256 tee dominates for real
// blob sizes); a fresh Writer starts every benchEntries blobs, so the
// duplicate map stays at a pack's size.
func BenchmarkWriterAdd(b *testing.B) {
	for _, size := range []int{64, 4 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			ids := make([]ID, benchEntries)
			for i := range ids {
				ids[i] = Hash(fmt.Appendf(nil, "blob %d", i))
			}
			stored := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			w, i := NewWriter(io.Discard), 0
			for b.Loop() {
				if i == benchEntries {
					w, i = NewWriter(io.Discard), 0
				}
				if err := w.Add(Data, ids[i], uint64(2*size), stored); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDecodeHeader decodes the header of a benchEntries-blob pack, what
// an index rebuild does once per pack.
func BenchmarkDecodeHeader(b *testing.B) {
	p, _ := writePack(b, testBlobs(benchEntries))
	header, _ := splitPack(b, p)
	hl, crc, err := ParseTrailer(p, int64(len(p)))
	if err != nil || int(hl) != len(header) {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(header)))
	b.ReportAllocs()
	for b.Loop() {
		entries, err := DecodeHeader(header, crc, int64(len(p)))
		if err != nil || len(entries) != benchEntries {
			b.Fatal(err)
		}
	}
}
