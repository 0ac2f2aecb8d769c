package mail

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// The huge-message test measures this process's memory while a 100 MB
// message streams through the mail source. imapmemserver keeps messages in
// memory and copies them on FETCH, so the server runs in a child process (this
// test binary again, running TestHelperHugeServer) to keep its allocations out
// of the numbers.

const hugeHelperEnv = "Y360_MAIL_TEST_HUGE_SERVER"

// hugeMessage returns a deterministic message of exactly size bytes.
func hugeMessage(size int64) io.Reader {
	header := "From: big@example.org\r\nTo: you@example.org\r\nSubject: a very large message\r\n" +
		"Message-Id: <huge@example.org>\r\nContent-Type: application/octet-stream\r\n\r\n"
	line := []byte(strings.Repeat("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/0123456789AB", 1) + "\r\n")
	body := &repeatReader{pattern: line}
	return io.MultiReader(strings.NewReader(header), io.LimitReader(body, size-int64(len(header))))
}

type repeatReader struct {
	pattern []byte
	off     int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	return n, nil
}

// TestHelperHugeServer is not a test: it is the child process of
// TestHugeMessageBoundedMemory.
func TestHelperHugeServer(t *testing.T) {
	size, _ := strconv.ParseInt(os.Getenv(hugeHelperEnv), 10, 64)
	if size == 0 {
		t.Skip("helper process for TestHugeMessageBoundedMemory")
	}
	srv, err := imapdemo.Start(demoValidate, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	if _, err := srv.AppendReader("huge@example.org", "INBOX", hugeMessage(size), size, nil, baseDate); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", srv.Addr())
	io.Copy(io.Discard, os.Stdin) // serve until the parent closes stdin
	os.Exit(0)
}

// hashStore is a MemStore whose PutBody only hashes (no copy kept), like a
// real repository streaming to a sink.
type hashStore struct{ *sourcetest.MemStore }

func (s hashStore) Open(ctx context.Context, name string) (sources.Container, error) {
	c, err := s.MemStore.Open(ctx, name)
	return hashContainer{c}, err
}

type hashContainer struct{ sources.Container }

func (c hashContainer) PutBody(ctx context.Context, r io.Reader) (sources.Body, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 32<<10))
	if err != nil {
		return sources.Body{}, err
	}
	return sources.Body{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func TestHugeMessageBoundedMemory(t *testing.T) {
	const size = 100 << 20
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHugeServer$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", hugeHelperEnv, size))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
	if err != nil || !ok {
		t.Fatalf("helper server: %q %v", line, err)
	}

	want := sha256.New()
	io.Copy(want, hugeMessage(size))
	wantHash := hex.EncodeToString(want.Sum(nil))

	mem := sourcetest.New()
	src := New(Config{Addr: addr, Security: SecurityPlain, Timeout: 30 * time.Second})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample the live heap while the message streams
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak {
				peak = ms.HeapInuse
			}
		}
	}()
	start := time.Now()
	err = src.Backup(context.Background(), testUser("huge@example.org"), tokensFor("huge@example.org"), hashStore{mem})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	items := mem.Items("INBOX")
	if len(items) != 1 {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		if it.Size != size || it.Hash != wantHash {
			t.Fatalf("stored %d bytes hash %s, want %d bytes %s", it.Size, it.Hash, size, wantHash)
		}
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	var peakDelta uint64
	if peak > before.HeapInuse {
		peakDelta = peak - before.HeapInuse
	}
	t.Logf("100 MiB message in %v (%.0f MB/s): allocated %.2f MiB in total, peak live heap +%.2f MiB",
		elapsed.Round(time.Millisecond), float64(size)/1e6/elapsed.Seconds(), float64(allocated)/(1<<20), float64(peakDelta)/(1<<20))
	if allocated > 16<<20 || peakDelta > 16<<20 {
		t.Fatalf("memory grew with the message: allocated %d bytes, peak heap +%d bytes", allocated, peakDelta)
	}
}
