package s3_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks/s3"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

// TestPeerComparison measures upload throughput of this sink against rclone
// (the peer uploader) on the same server in the same run: MB/s for a large
// file and objects/s for many small ones, median of three rounds each. It is
// a measurement, not a pass/fail speed test: it runs only with Y360_BENCH=1
// and fails only if an upload fails. Both sides use 16 MiB parts, 4 parts in
// flight, and 16 concurrent small uploads.
func TestPeerComparison(t *testing.T) {
	if os.Getenv("Y360_BENCH") != "1" {
		t.Skip("measurement: set Y360_BENCH=1")
	}
	srv := testServer(t)
	bucket := srv.newBucket(t)
	dir := t.TempDir()
	const largeSize, smallCount, smallSize = 512 << 20, 1000, 4 << 10
	large := filepath.Join(dir, "large.bin")
	writeFile(t, large, sinktest.NewDataReader(1, largeSize))
	smallDir := filepath.Join(dir, "small")
	os.Mkdir(smallDir, 0o700)
	for i := range smallCount {
		writeFile(t, filepath.Join(smallDir, fmt.Sprintf("obj%04d", i)), sinktest.NewDataReader(uint64(100+i), smallSize))
	}

	cfg := srv.config(bucket, "")
	cfg.PartSize, cfg.Concurrency = 16<<20, 4
	s := openSink(t, cfg)
	ctx := context.Background()

	rclone, rcloneErr := exec.LookPath("rclone")
	// rclone 1.60 cannot combine AWS_CA_BUNDLE with its own transport; the
	// server is plain HTTP anyway.
	rcloneEnv := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
	rcloneEnv = append(rcloneEnv,
		"RCLONE_CONFIG="+filepath.Join(dir, "rclone.conf"),
		"RCLONE_CONFIG_VGW_TYPE=s3", "RCLONE_CONFIG_VGW_PROVIDER=Other",
		"RCLONE_CONFIG_VGW_ENDPOINT="+srv.endpoint, "RCLONE_CONFIG_VGW_REGION=us-east-1",
		"RCLONE_CONFIG_VGW_ACCESS_KEY_ID="+srv.access, "RCLONE_CONFIG_VGW_SECRET_ACCESS_KEY="+srv.secret,
		"RCLONE_CONFIG_VGW_FORCE_PATH_STYLE=true")
	os.WriteFile(filepath.Join(dir, "rclone.conf"), nil, 0o600)
	runRclone := func(args ...string) {
		t.Helper()
		cmd := exec.Command(rclone, append(args, "--s3-no-check-bucket", "--s3-chunk-size", "16M",
			"--s3-upload-cutoff", "16M", "--s3-upload-concurrency", "4", "--transfers", "16", "--checkers", "16")...)
		cmd.Env = rcloneEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rclone %v: %v\n%s", args, err, out)
		}
	}

	type result struct{ large, small []float64 } // MB/s, objects/s
	var ours, peer result
	for round := range 3 {
		// Large: one file, size known.
		el := timed(func() {
			f, err := os.Open(large)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := s.Put(ctx, fmt.Sprintf("ours/%d/large", round), f, largeSize); err != nil {
				t.Fatal(err)
			}
		})
		ours.large = append(ours.large, largeSize/1e6/el.Seconds())
		// Small: 16 workers, each file read from disk and Put.
		el = timed(func() { putSmall(t, s, smallDir, fmt.Sprintf("ours/%d/small/", round), 16) })
		ours.small = append(ours.small, smallCount/el.Seconds())

		if rcloneErr != nil {
			continue
		}
		el = timed(func() { runRclone("copyto", large, fmt.Sprintf("vgw:%s/peer/%d/large", bucket, round)) })
		peer.large = append(peer.large, largeSize/1e6/el.Seconds())
		el = timed(func() {
			runRclone("copy", "--no-traverse", smallDir, fmt.Sprintf("vgw:%s/peer/%d/small", bucket, round))
		})
		peer.small = append(peer.small, smallCount/el.Seconds())
	}
	t.Logf("large %d MiB: ours %.0f MB/s (rounds %.0f)", largeSize>>20, median(ours.large), ours.large)
	t.Logf("small %d x %d KiB: ours %.0f objects/s (rounds %.0f)", smallCount, smallSize>>10, median(ours.small), ours.small)
	if rcloneErr != nil {
		t.Logf("peer: rclone not installed (%v): no comparison", rcloneErr)
		return
	}
	out, _ := exec.Command(rclone, "version").Output()
	t.Logf("peer %s", firstLine(out))
	t.Logf("large: rclone %.0f MB/s (rounds %.0f); ours/rclone = %.2f", median(peer.large), peer.large, median(ours.large)/median(peer.large))
	t.Logf("small: rclone %.0f objects/s (rounds %.0f); ours/rclone = %.2f", median(peer.small), peer.small, median(ours.small)/median(peer.small))
}

func putSmall(t *testing.T, s *s3.Sink, dir, prefix string, workers int) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for name := range names {
				f, err := os.Open(filepath.Join(dir, name))
				if err != nil {
					t.Error(err)
					continue
				}
				fi, _ := f.Stat()
				if err := s.Put(context.Background(), prefix+name, f, fi.Size()); err != nil {
					t.Error(err)
				}
				f.Close()
			}
		})
	}
	for _, e := range ents {
		names <- e.Name()
	}
	close(names)
	wg.Wait()
}

func writeFile(t *testing.T, path string, r io.Reader) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
