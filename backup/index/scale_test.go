package index

import (
	"bufio"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lookup half of a scale test runs in a child process (this test
// binary, re-run for one test with childEnv set), so that its peak resident
// set (VmHWM) counts neither the build nor the parent's heap.
const childEnv = "Y360_INDEX_CHILD" // "dir n lookups"

// TestLookupRSS: a cache of 10^6 blobs answers random hits and misses
// correctly with a bounded resident set.
func TestLookupRSS(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		lookupChild(t)
		return
	}
	lookups := 100_000
	if raceEnabled {
		lookups = 10_000
	}
	scaleTest(t, "TestLookupRSS", 1_000_000, lookups, t.TempDir())
}

// TestLookupRSSScale is the same at Y360_INDEX_SCALE blobs (e.g. 100000000).
// It is not run in CI: at 10^8 the build writes ~9 GB and takes minutes.
// Y360_INDEX_SCALE_DIR keeps the built cache there for a rerun;
// Y360_INDEX_DEBUG=1 logs the child's memory and pebble metrics.
func TestLookupRSSScale(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		lookupChild(t)
		return
	}
	n, _ := strconv.ParseUint(os.Getenv("Y360_INDEX_SCALE"), 10, 64)
	if n == 0 {
		t.Skip("set Y360_INDEX_SCALE=100000000 to run")
	}
	dir := os.Getenv("Y360_INDEX_SCALE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	scaleTest(t, "TestLookupRSSScale", n, 1_000_000, filepath.Join(dir, fmt.Sprint(n)))
}

// rssLimit is the peak resident set allowed to the lookup child: the
// 32 MiB block cache, memtables, table readers and the Go runtime. It does
// not depend on the number of blobs. The race detector's shadow memory
// multiplies what Go code touches.
func rssLimit() int64 {
	if raceEnabled {
		return 384 << 20
	}
	return 192 << 20
}

func scaleTest(t *testing.T, name string, n uint64, lookups int, dir string) {
	start := time.Now()
	c := openT(t, dir)
	built, _, _ := c.getRaw([]byte("msynthetic"))
	if string(built) != fmt.Sprint(n) {
		buildSynthetic(t, c, n)
		if err := c.db.Set([]byte("msynthetic"), []byte(fmt.Sprint(n)), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d blobs: built in %v, %d MiB on disk", n, time.Since(start).Round(time.Millisecond), dirSize(dir)>>20)

	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1", "-test.timeout=2h")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d", childEnv, dir, n, lookups))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	res := map[string]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(line, "CHILD-RESULT "); ok {
			for _, f := range strings.Fields(rest) {
				k, v, _ := strings.Cut(f, "=")
				res[k], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	if len(res) == 0 {
		t.Fatalf("child printed no result:\n%s", out)
	}
	if os.Getenv("Y360_INDEX_DEBUG") != "" {
		t.Logf("child output:\n%s", out)
	}
	t.Logf("%d blobs: lookup hit %d ns, miss %d ns (%d each); child peak RSS %d MiB (VmHWM), %d MiB at the end",
		n, res["hit_ns"], res["miss_ns"], lookups, res["hwm_kib"]>>10, res["rss_kib"]>>10)
	if hwm := res["hwm_kib"] << 10; hwm > rssLimit() {
		t.Fatalf("peak RSS %d MiB exceeds %d MiB", hwm>>20, rssLimit()>>20)
	}
}

// lookupChild opens the cache, checks random hits and misses, and prints
// timings and its VmHWM.
func lookupChild(t *testing.T) {
	var dir string
	var n uint64
	var lookups int
	if _, err := fmt.Sscan(os.Getenv(childEnv), &dir, &n, &lookups); err != nil {
		t.Fatalf("%s: %v", childEnv, err)
	}
	c := openT(t, dir)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	start := time.Now()
	for range lookups {
		i := r.Uint64N(n)
		loc, ok, err := c.Lookup(synthID(synthSeed, i))
		if err != nil || !ok || loc != synthLoc(i) {
			t.Fatalf("blob %d: %+v %v %v, want %+v", i, loc, ok, err, synthLoc(i))
		}
	}
	hit := time.Since(start)
	start = time.Now()
	for range lookups {
		if _, ok, err := c.Lookup(synthID(synthMissSeed, r.Uint64())); ok || err != nil {
			t.Fatalf("miss found: %v %v", ok, err)
		}
	}
	miss := time.Since(start)
	status := procStatus(t)
	if os.Getenv("Y360_INDEX_DEBUG") != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("DEBUG anon=%d file=%d\n", status["RssAnon"]>>10, status["RssFile"]>>10)
		fmt.Printf("DEBUG heapsys=%d heapinuse=%d stack=%d sys=%d\n%s\n", ms.HeapSys>>20, ms.HeapInuse>>20, ms.StackSys>>20, ms.Sys>>20, c.db.Metrics())
	}
	fmt.Printf("CHILD-RESULT hit_ns=%d miss_ns=%d hwm_kib=%d rss_kib=%d\n",
		hit.Nanoseconds()/int64(lookups), miss.Nanoseconds()/int64(lookups), status["VmHWM"], status["VmRSS"])
}

// procStatus reads the kB fields of /proc/self/status.
func procStatus(t *testing.T) map[string]int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	m := map[string]int64{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if f := strings.Fields(v); ok && len(f) == 2 && f[1] == "kB" {
			m[k], _ = strconv.ParseInt(f[0], 10, 64)
		}
	}
	return m
}

func dirSize(dir string) int64 {
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
