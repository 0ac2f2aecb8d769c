package s3_test

import (
	"context"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks/sinktest"
)

// TestHugeObject streams a 2 GiB object of unknown size and checks that the
// heap stays bounded by the part buffers, not the object size.
func TestHugeObject(t *testing.T) {
	if testing.Short() {
		t.Skip("2 GiB upload skipped in -short mode")
	}
	srv := testServer(t)
	bucket := srv.newBucket(t)
	cfg := srv.config(bucket, "huge")
	cfg.PartSize, cfg.Concurrency = 8<<20, 4 // 32 MiB of part buffers
	s := openSink(t, cfg)
	const size = 2 << 30
	var err error
	start := time.Now()
	growth := sinktest.HeapGrowth(func() {
		err = s.Put(context.Background(), "objects/huge", sinktest.NewDataReader(9, size), -1)
	})
	if err != nil {
		t.Fatalf("Put of 2 GiB: %v", err)
	}
	el := time.Since(start)
	t.Logf("2 GiB in %v (%.0f MB/s), heap growth %.1f MiB", el.Round(time.Millisecond), size/1e6/el.Seconds(), float64(growth)/(1<<20))
	if growth > 96<<20 {
		t.Errorf("heap grew by %.1f MiB for 32 MiB of part buffers", float64(growth)/(1<<20))
	}
	checkObject(t, s, "objects/huge", 9, size)
	s.Delete(context.Background(), "objects/huge")
}
