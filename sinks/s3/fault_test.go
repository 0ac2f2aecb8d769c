package s3_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/y360backup/y360backup/internal/testpeer"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/s3"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

// gateway is a private versitygw the test can kill and restart; the shared
// server of Y360_TEST_S3_ENDPOINT must not be disturbed.
type gateway struct {
	bin, dir, addr string
	cmd            *exec.Cmd
}

// versitygwBinary finds versitygw: $Y360_TEST_VERSITYGW, the cache that
// scripts/peers-up.sh installs into, or $PATH.
func versitygwBinary(t *testing.T) string {
	cache := os.Getenv("Y360_PEERS_CACHE") // as scripts/peers-up.sh resolves it
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "y360backup")
	}
	for _, p := range []string{os.Getenv("Y360_TEST_VERSITYGW"), filepath.Join(cache, "bin", "versitygw")} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	testpeer.Missing(t, "versitygw not found ($Y360_TEST_VERSITYGW, $Y360_PEERS_CACHE/bin, $PATH)")
	return ""
}

func startGateway(t *testing.T) *gateway {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{bin: versitygwBinary(t), dir: t.TempDir(), addr: l.Addr().String()}
	l.Close()
	g.start(t)
	t.Cleanup(g.kill)
	return g
}

func (g *gateway) server() server { return server{"http://" + g.addr, "testaccess", "testsecret123"} }

func (g *gateway) start(t *testing.T) {
	t.Helper()
	if err := g.tryStart(); err != nil {
		t.Fatal(err)
	}
}

// tryStart starts the gateway and waits until it accepts connections.
func (g *gateway) tryStart() error {
	g.cmd = exec.Command(g.bin, "-q", "--port", g.addr, "posix", g.dir)
	g.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=testaccess", "ROOT_SECRET_KEY=testsecret123")
	if err := g.cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", g.addr); err == nil {
			c.Close()
			return nil
		}
	}
	g.kill()
	return fmt.Errorf("versitygw did not listen on %s", g.addr)
}

// kill stops the gateway the hard way (SIGKILL), as a crash or power cut would.
func (g *gateway) kill() {
	if g.cmd != nil && g.cmd.Process != nil {
		g.cmd.Process.Kill()
		g.cmd.Wait()
		g.cmd = nil
	}
}

// hookReader calls hook once after `after` bytes were read from r.
type hookReader struct {
	r     io.Reader
	after int64
	once  sync.Once
	hook  func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.after -= int64(n); h.after < 0 {
		h.once.Do(h.hook)
	}
	return n, err
}

// TestServerKilledMidUpload kills the store while a large object is being
// uploaded and keeps it down: the Put fails, and after a restart no partial
// object is visible, the leftover upload can be aborted, and a new Put works.
func TestServerKilledMidUpload(t *testing.T) {
	g := startGateway(t)
	srv := g.server()
	bucket := "y360-fault"
	if _, err := srv.client().CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	cfg := srv.config(bucket, "repo")
	cfg.MaxRetries = 2
	s := openSink(t, cfg)
	ctx := context.Background()
	const size = 64 << 20

	r := &hookReader{r: sinktest.NewDataReader(7, size), after: 20 << 20, hook: g.kill}
	err := s.Put(ctx, "objects/big", r, -1)
	if err == nil {
		t.Fatal("Put succeeded although the store was killed halfway")
	}
	t.Logf("Put with the store down: %v", err)
	if !errors.Is(err, s3.ErrUnreachable) {
		t.Errorf("error is not ErrUnreachable: %v", err)
	}

	g.start(t)
	if _, err := s.Stat(ctx, "objects/big"); !errors.Is(err, sinks.ErrNotExist) {
		t.Errorf("after restart, Stat = %v, want ErrNotExist", err)
	}
	var listed []string
	s.List(ctx, "", func(oi sinks.ObjectInfo) error { listed = append(listed, oi.Key); return nil })
	if len(listed) != 0 {
		t.Errorf("after restart, List = %q, want nothing", listed)
	}
	// The abort could not reach the dead store: the upload is left over
	// until AbortStale (or a lifecycle rule) removes it.
	ups, err := srv.client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("multipart uploads left after the crash: %d", len(ups.Uploads))
	if n, err := s.AbortStale(ctx, time.Now().Add(time.Hour)); err != nil || n != len(ups.Uploads) {
		t.Errorf("AbortStale = %d, %v; want %d", n, err, len(ups.Uploads))
	}
	ups, _ = srv.client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if len(ups.Uploads) != 0 {
		t.Errorf("%d uploads left after AbortStale", len(ups.Uploads))
	}

	if err := s.Put(ctx, "objects/big", sinktest.NewDataReader(7, size), -1); err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	checkObject(t, s, "objects/big", 7, size)
}

// TestServerRestartedWithinRetries kills the store mid-upload and brings it
// back a second later: the SDK's retries carry the Put through.
func TestServerRestartedWithinRetries(t *testing.T) {
	g := startGateway(t)
	srv := g.server()
	bucket := "y360-restart"
	if _, err := srv.client().CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, srv.config(bucket, "")) // default MaxRetries
	const size = 48 << 20
	var wg sync.WaitGroup
	var restartErr error
	r := &hookReader{r: sinktest.NewDataReader(8, size), after: 12 << 20, hook: func() {
		g.kill()
		wg.Go(func() { time.Sleep(time.Second); restartErr = g.tryStart() })
	}}
	start := time.Now()
	err := s.Put(context.Background(), "objects/big", r, size)
	wg.Wait()
	if restartErr != nil {
		t.Fatal(restartErr)
	}
	if err != nil {
		t.Fatalf("Put across a store restart: %v", err)
	}
	t.Logf("Put across a 1 s store outage took %v", time.Since(start).Round(time.Millisecond))
	checkObject(t, s, "objects/big", 8, size)
}

// checkObject compares key's content with NewDataReader(seed, size).
func checkObject(t *testing.T, s sinks.Sink, key string, seed uint64, size int64) {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	h := newHasher()
	n, err := io.Copy(h, rc)
	if err != nil || n != size || h.sum() != sinktest.DataHash(seed, size) {
		t.Errorf("Get(%s): %d bytes, err %v, hash match %v; want %d bytes", key, n, err, h.sum() == sinktest.DataHash(seed, size), size)
	}
}
