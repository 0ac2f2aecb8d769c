package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Synthetic indexes for the scale tests and benchmarks. Blob i's id comes
// from a counter-based PRNG (splitmix64 of seed, i and the word number), so
// a test can regenerate any blob without keeping or replaying the others,
// and the ids are as uniform as SHA-256 ones.

const (
	synthSeed     = 0x5933_4958_0001 // blob ids
	synthPackSeed = 0x5933_4958_0002 // pack ids
	synthMissSeed = 0x5933_4958_0003 // ids that are not in the index
	blobsPerPack  = 1000
)

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func synthWord(seed, i uint64, w int) uint64 { return mix64(seed ^ mix64(i<<2|uint64(w))) }

func synthID(seed, i uint64) ID {
	var id ID
	for w := range 4 {
		binary.BigEndian.PutUint64(id[8*w:], synthWord(seed, i, w))
	}
	return id
}

func synthLoc(i uint64) Location {
	return Location{Pack: synthID(synthPackSeed, i/blobsPerPack), Type: uint8(1 + i%3),
		Offset: (i % blobsPerPack) * 4096, Length: 100 + i%4000, RawLength: 200 + i%8000}
}

func synthEntry(i uint64) Entry {
	l := synthLoc(i)
	return Entry{Type: l.Type, ID: synthID(synthSeed, i), Offset: l.Offset, Length: l.Length, RawLength: l.RawLength}
}

// synthFile encodes blobs [from, to) as an index file.
func synthFile(t testing.TB, from, to uint64) []byte {
	var buf bytes.Buffer
	e := NewEncoder(&buf)
	var entries []Entry
	for i := from; i < to; i++ {
		entries = append(entries, synthEntry(i))
		if (i+1)%blobsPerPack == 0 || i+1 == to {
			if err := e.AddPack(synthLoc(i).Pack, entries); err != nil {
				t.Fatal(err)
			}
			entries = entries[:0]
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// buildSynthetic fills c with blobs [0, n) as pebble tables written in key
// order and ingested into the bottom level: the shape a cache has once
// compactions settle, reached without them (building 10^8 blobs through
// Ingest would spend most of its time compacting). It makes passes over the
// blob numbers, each collecting the ids in one range of first bytes, so
// memory stays at about 2 million ids whatever n is.
func buildSynthetic(t testing.TB, c *Cache, n uint64) {
	type kv struct {
		id ID
		i  uint64
	}
	tmp, err := os.MkdirTemp(filepath.Dir(c.dir), "synth-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	wopts := pebbleOptions(defaultBlockCache).MakeWriterOptions(6, c.db.TableFormat())
	passes := max(1, min(256, int(n/(2<<20))+1))
	var buf []kv
	var val [locationLen]byte
	var w *sstable.Writer
	var path string
	tables := 0
	for p := range passes {
		lo, hi := uint64(256*p/passes), uint64(256*(p+1)/passes)
		buf = buf[:0]
		for i := range n {
			if top := synthWord(synthSeed, i, 0) >> 56; top >= lo && top < hi {
				buf = append(buf, kv{synthID(synthSeed, i), i})
			}
		}
		slices.SortFunc(buf, func(a, b kv) int { return bytes.Compare(a.id[:], b.id[:]) })
		for _, e := range buf {
			if w == nil {
				tables++
				path = filepath.Join(tmp, fmt.Sprintf("%06d.sst", tables))
				f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
				if err != nil {
					t.Fatal(err)
				}
				w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), wopts)
			}
			k := blobKey(e.id)
			encodeLocation(&val, synthLoc(e.i))
			if err := w.Set(k[:], val[:]); err != nil {
				t.Fatal(err)
			}
			if w.Raw().EstimatedSize() >= 64<<20 {
				ingestTable(t, c, w, path)
				w = nil
			}
		}
	}
	if w != nil {
		ingestTable(t, c, w, path)
	}
}

func ingestTable(t testing.TB, c *Cache, w *sstable.Writer, path string) {
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.db.Ingest(context.Background(), []string{path}); err != nil {
		t.Fatal(err)
	}
}
