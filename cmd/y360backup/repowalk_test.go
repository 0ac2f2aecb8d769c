package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/internal/testpeer/s3peer"
	"github.com/y360backup/y360backup/sinks"
)

// testS3Sink makes a fresh bucket on the test S3 server (versitygw from
// scripts/peers-up.sh) and returns a sink on its "repo" prefix and the
// bucket's name; the bucket is emptied and removed at cleanup.
func testS3Sink(t *testing.T) (sinks.Sink, string) {
	return s3peer.Sink(t, "y360-harness-")
}

// repoCensus is what a walk of a repository finds, from the objects alone
// (pack headers and index files), independent of the engine's own stats.
type repoCensus struct {
	Packs, PackBytes           int64 // data/ objects
	DataPacks                  int64 // packs holding bodies (data and chunk-list blobs)
	UnindexedPacks, Unindexed  int64 // packs no index file names, and their bytes
	Blobs, BlobBytes           int64 // blob copies in all packs (stored bytes)
	UniqueBlobs, UniqueBytes   int64 // distinct (type, id)
	DupBlobs, DupBytes         int64 // copies beyond the first: bytes uploaded more than once
	DupDataBytes               int64 // of which data and chunk-list blobs (bodies)
	IndexFiles, IndexedPacks   int64
	Checkpoints, Snapshots     int64
	LeaseObjects, OtherObjects int64
}

func (c repoCensus) String() string {
	return fmt.Sprintf("%d packs (%s), %d unindexed (%s); %d blob copies, %d distinct (%s); duplicates: %d blobs, %s (%s of bodies); %d index files, %d checkpoints, %d snapshots",
		c.Packs, humanBytes(c.PackBytes), c.UnindexedPacks, humanBytes(c.Unindexed), c.Blobs, c.UniqueBlobs, humanBytes(c.UniqueBytes),
		c.DupBlobs, humanBytes(c.DupBytes), humanBytes(c.DupDataBytes), c.IndexFiles, c.Checkpoints, c.Snapshots)
}

// census walks every object of the repository on s.
func census(t *testing.T, s sinks.Sink) repoCensus {
	t.Helper()
	ctx := context.Background()
	var c repoCensus
	type blobKey struct {
		t  pack.BlobType
		id pack.ID
	}
	seen := map[blobKey]bool{}
	packSize := map[string]int64{}
	var keys []sinks.ObjectInfo
	if err := s.List(ctx, "", func(oi sinks.ObjectInfo) error { keys = append(keys, oi); return nil }); err != nil {
		t.Fatalf("census: list: %v", err)
	}
	indexed := map[string]bool{}
	for _, oi := range keys {
		switch {
		case strings.HasPrefix(oi.Key, "data/"):
			c.Packs++
			c.PackBytes += oi.Size
			id := oi.Key[strings.LastIndexByte(oi.Key, '/')+1:]
			packSize[id] = oi.Size
			entries, err := pack.ReadHeader(func(off, n int64) ([]byte, error) {
				rc, err := s.GetRange(ctx, oi.Key, off, n)
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				return io.ReadAll(rc)
			}, oi.Size)
			if err != nil {
				t.Fatalf("census: pack %s: %v", oi.Key, err)
			}
			for _, e := range entries {
				if e.Type != pack.Tree {
					c.DataPacks++
					break
				}
			}
			for _, e := range entries {
				c.Blobs++
				c.BlobBytes += int64(e.Length)
				k := blobKey{e.Type, e.ID}
				if seen[k] {
					c.DupBlobs++
					c.DupBytes += int64(e.Length)
					if e.Type != pack.Tree {
						c.DupDataBytes += int64(e.Length)
					}
					continue
				}
				seen[k] = true
				c.UniqueBlobs++
				c.UniqueBytes += int64(e.Length)
			}
		case strings.HasPrefix(oi.Key, "index/"):
			c.IndexFiles++
			rc, err := s.Get(ctx, oi.Key)
			if err != nil {
				t.Fatalf("census: %v", err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("census: read %s: %v", oi.Key, err)
			}
			err = index.Decode(bytes.NewReader(b), func(p index.ID, _ []index.Entry) error {
				indexed[p.String()] = true
				return nil
			})
			if err != nil {
				t.Fatalf("census: index file %s: %v", oi.Key, err)
			}
		case strings.HasPrefix(oi.Key, "checkpoints/"):
			c.Checkpoints++
		case strings.HasPrefix(oi.Key, "snapshots/"):
			c.Snapshots++
		case strings.HasPrefix(oi.Key, "leases/"):
			c.LeaseObjects++
		default:
			c.OtherObjects++
		}
	}
	c.IndexedPacks = int64(len(indexed))
	for id, size := range packSize {
		if !indexed[id] {
			c.UnindexedPacks++
			c.Unindexed += size
		}
	}
	for id := range indexed {
		if _, ok := packSize[id]; !ok {
			t.Errorf("census: an index file names pack %s, which is not in data/", id)
		}
	}
	return c
}

// countPrefix counts the objects under prefix.
func countPrefix(t *testing.T, s sinks.Sink, prefix string) int {
	t.Helper()
	n := 0
	if err := s.List(context.Background(), prefix, func(sinks.ObjectInfo) error { n++; return nil }); err != nil {
		t.Fatalf("list %s: %v", prefix, err)
	}
	return n
}
