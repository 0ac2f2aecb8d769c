package index

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMeasureLookupScale measures the local index cache at the scale of a
// big organization's history. It is a measurement, not a CI test: it runs
// only with Y360_INDEX_SCALE=N (blobs, e.g. 10000000) and fails only when a
// lookup returns a wrong answer, never on speed or memory (bench/format2.sh
// reports the numbers).
//
// The cache is built the way a fresh machine builds it: by Ingest of index
// files (synthetic: 1,000 blobs a pack, 1,000 packs a file). Then a child
// process (this test binary again) opens it and does random lookups of
// present blobs (hits) and of absent ones (misses: what every new mail
// costs), and prints its peak resident set (VmHWM) and CPU time, so the
// parent's build heap does not count.
//
// Y360_INDEX_SCALE_DIR keeps the built cache there (reused when it holds the
// same N); Y360_INDEX_LOOKUPS sets the lookups of each kind (default 10^6).
func TestMeasureLookupScale(t *testing.T) {
	if os.Getenv(measureChildEnv) != "" {
		measureLookupChild(t)
		return
	}
	n, _ := strconv.ParseUint(os.Getenv("Y360_INDEX_SCALE"), 10, 64)
	if n == 0 {
		t.Skip("set Y360_INDEX_SCALE=10000000 to measure")
	}
	lookups, _ := strconv.Atoi(os.Getenv("Y360_INDEX_LOOKUPS"))
	if lookups <= 0 {
		lookups = 1_000_000
	}
	dir := os.Getenv("Y360_INDEX_SCALE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, fmt.Sprint(n))

	start := time.Now()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	built, _, _ := c.getRaw([]byte("mmeasure-synthetic"))
	if string(built) != fmt.Sprint(n) {
		measureBuild(t, c, n)
		if err := c.db.Set([]byte("mmeasure-synthetic"), []byte(fmt.Sprint(n)), nil); err != nil {
			t.Fatal(err)
		}
		t.Logf("built %d blobs by Ingest in %v", n, time.Since(start).Round(time.Second))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("cache: %d MiB on disk", measureDirSize(dir)>>20)

	cmd := exec.Command(os.Args[0], "-test.run=^TestMeasureLookupScale$", "-test.v", "-test.count=1", "-test.timeout=4h")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", measureChildEnv, dir, n, lookups))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "MEASURE-RESULT "); ok {
			t.Logf("N=%d %s", n, rest)
			return
		}
	}
	t.Fatalf("child printed no result:\n%s", out)
}

const measureChildEnv = "Y360_INDEX_MEASURE_CHILD" // "dir n lookups"

const (
	measureBlobsPerPack = 1000
	measurePacksPerFile = 1000
)

// measureID is blob i's synthetic ID (salt 0: present; other salts: absent).
func measureID(salt, i uint64) ID {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], salt)
	binary.LittleEndian.PutUint64(b[8:], i)
	return ID(sha256.Sum256(b[:]))
}

func measurePack(p uint64) ID { return measureID(1<<63, p) }

// measureLoc is where blob i is said to be: derivable from i, so every hit
// is checked.
func measureLoc(i uint64) Location {
	return Location{Pack: measurePack(i / measureBlobsPerPack), Type: TypeData,
		Offset: (i % measureBlobsPerPack) * 16000, Length: 16000 - i%7, RawLength: 22000 + i%13}
}

// measureBuild ingests index files naming blobs 0..n-1.
func measureBuild(t *testing.T, c *Cache, n uint64) {
	perFile := uint64(measureBlobsPerPack * measurePacksPerFile)
	for first := uint64(0); first < n; first += perFile {
		last := min(first+perFile, n)
		pr, pw := io.Pipe()
		go func() {
			enc := NewEncoder(pw)
			entries := make([]Entry, 0, measureBlobsPerPack)
			for p := first / measureBlobsPerPack; p*measureBlobsPerPack < last; p++ {
				entries = entries[:0]
				for i := p * measureBlobsPerPack; i < min((p+1)*measureBlobsPerPack, last); i++ {
					l := measureLoc(i)
					entries = append(entries, Entry{Type: l.Type, ID: measureID(0, i), Offset: l.Offset, Length: l.Length, RawLength: l.RawLength})
				}
				if err := enc.AddPack(measurePack(p), entries); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			pw.CloseWithError(enc.Close())
		}()
		t0 := time.Now()
		got, err := c.Ingest(fmt.Sprintf("index/synthetic-%012d", first), pr)
		pr.Close()
		if err != nil {
			t.Fatal(err)
		}
		if uint64(got) != last-first {
			t.Fatalf("ingested %d blobs, want %d", got, last-first)
		}
		t.Logf("ingested blobs %d..%d in %v", first, last, time.Since(t0).Round(time.Millisecond))
	}
}

func measureLookupChild(t *testing.T) {
	var dir string
	var n uint64
	var lookups int
	if _, err := fmt.Sscan(os.Getenv(measureChildEnv), &dir, &n, &lookups); err != nil {
		t.Fatalf("%s: %v", measureChildEnv, err)
	}
	t0 := time.Now()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	openDur := time.Since(t0)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	cpu0 := measureCPU()
	start := time.Now()
	for range lookups {
		i := r.Uint64N(n)
		loc, ok, err := c.Lookup(measureID(0, i))
		if err != nil || !ok || loc != measureLoc(i) {
			t.Fatalf("blob %d: %+v %v %v, want %+v", i, loc, ok, err, measureLoc(i))
		}
	}
	hit := time.Since(start)
	cpu1 := measureCPU()
	start = time.Now()
	for range lookups {
		if _, ok, err := c.Lookup(measureID(2+r.Uint64N(1<<40), r.Uint64())); ok || err != nil {
			t.Fatalf("absent blob found: %v %v", ok, err)
		}
	}
	miss := time.Since(start)
	cpu2 := measureCPU()
	st := measureStatus()
	fmt.Printf("MEASURE-RESULT open=%v lookups=%d hit=%dns/op (%.0f/s, cpu %v) miss=%dns/op (%.0f/s, cpu %v) peakRSS=%dMiB endRSS=%dMiB\n",
		openDur.Round(time.Millisecond), lookups,
		hit.Nanoseconds()/int64(lookups), float64(lookups)/hit.Seconds(), (cpu1 - cpu0).Round(time.Millisecond),
		miss.Nanoseconds()/int64(lookups), float64(lookups)/miss.Seconds(), (cpu2 - cpu1).Round(time.Millisecond),
		st["VmHWM"]>>10, st["VmRSS"]>>10)
}

// measureCPU is this process's user+system CPU time so far.
func measureCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond // USER_HZ = 100 on Linux
}

// measureStatus reads the kB fields of /proc/self/status.
func measureStatus() map[string]int64 {
	m := map[string]int64{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return m
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			m[k], _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return m
}

func measureDirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
