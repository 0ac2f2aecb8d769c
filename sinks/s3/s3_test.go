package s3_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/s3"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

// TestConformance runs the sink suite against the real S3 server, each
// subtest under its own prefix of one fresh bucket.
func TestConformance(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	var n atomic.Int32
	sinktest.RunOptions(t, sinktest.Options{MaxHeapGrowth: 48 << 20}, func(t *testing.T) sinks.Sink {
		s, err := s3.Open(context.Background(), srv.config(bucket, fmt.Sprintf("t%02d/", n.Add(1))))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
