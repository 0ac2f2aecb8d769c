package index

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// benchBlobs is the size of the cache the lookup benchmarks read: bigger
// than the block cache, so hits read blocks from the file system.
const benchBlobs = 1_000_000

func benchCache(b *testing.B) *Cache {
	c := openT(b, b.TempDir())
	buildSynthetic(b, c, benchBlobs)
	return c
}

func BenchmarkLookupHit(b *testing.B) {
	c := benchCache(b)
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		i := r.Uint64N(benchBlobs)
		if _, ok, err := c.Lookup(synthID(synthSeed, i)); !ok || err != nil {
			b.Fatalf("blob %d: %v %v", i, ok, err)
		}
	}
}

func BenchmarkLookupMiss(b *testing.B) {
	c := benchCache(b)
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		if _, ok, err := c.Lookup(synthID(synthMissSeed, r.Uint64())); ok || err != nil {
			b.Fatalf("miss: %v %v", ok, err)
		}
	}
}

// BenchmarkIngest ingests index files of 50,000 new blobs each into one
// growing cache, as a rebuild does; blobs/s is the ingest rate.
func BenchmarkIngest(b *testing.B) {
	const perFile = 50_000
	c := openT(b, b.TempDir())
	var blobs int
	var spent time.Duration
	for i := range b.N {
		b.StopTimer()
		file := synthFile(b, uint64(i)*perFile, uint64(i+1)*perFile)
		b.StartTimer()
		start := time.Now()
		n, err := c.Ingest(string(rune(i)), bytes.NewReader(file))
		if err != nil {
			b.Fatal(err)
		}
		spent += time.Since(start)
		blobs += n
	}
	b.ReportMetric(float64(blobs)/spent.Seconds(), "blobs/s")
}
