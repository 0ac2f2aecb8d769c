package disk_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// The tests here move a lot of bytes; they run in CI and are skipped
// under -short. They log throughput next to curl fetching the same files
// from the same emulator in the same run (numbers, not assertions: CI
// machines vary, and under -race ours measures instrumented code).

const bigFileSize = 2 << 30 // 2 GiB (the issue asks ≥ 1 GB), generated on the fly by the emulator

// TestLargeFileBoundedMemory streams a 2 GiB file through the source into a
// hashing store and checks that neither the Go heap nor the process RSS
// grows with the file.
func TestLargeFileBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 2 GiB (twice with curl); skipped under -short")
	}
	e := newEnv(t)
	const p = "/Видео/большой файл.bin"
	must(t, e.emu.DiskPutGenerated(e.user.Email, p, bigFileSize, 2024, time.Time{}))
	fi, _ := e.emu.DiskStat(e.user.Email, p) // hash once now, not inside the timed run

	st := newStreamStore()
	src := e.source(t, nil)
	mem := startMemSampler()
	start := time.Now()
	if err := e.backup(t, src, st); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	peak := mem.stop()
	if len(st.Failures) > 0 {
		t.Fatal(st.Failures)
	}
	it := st.Items(disk.ContainerName)["disk:"+p]
	if it.Hash != fi.SHA256 || it.Size != bigFileSize {
		t.Fatalf("stored %s/%d, want %s/%d", it.Hash, it.Size, fi.SHA256, bigFileSize)
	}
	if b, n := e.emu.DiskServed(e.user.Email, p); b != bigFileSize || n != 1 {
		t.Fatalf("served %d bytes in %d responses", b, n)
	}
	t.Logf("memory while streaming 2 GiB: heap in use +%.1f MiB (peak %.1f MiB), RSS +%.1f MiB (peak %.1f MiB)",
		mib(peak.heapGrowth), mib(peak.heap), mib(peak.rssGrowth), mib(peak.rss))
	if peak.heapGrowth > 64<<20 {
		t.Errorf("heap grew by %.1f MiB while streaming", mib(peak.heapGrowth))
	}
	if peak.rss > 0 && peak.rssGrowth > 100<<20 {
		t.Errorf("RSS grew by %.1f MiB while streaming", mib(peak.rssGrowth))
	}
	ours := float64(bigFileSize) / elapsed.Seconds() / 1e6
	t.Logf("large file: y360backup %.0f MB/s (%v for 2 GiB incl. listing, sha256 verify and store hashing; race=%v)", ours, elapsed.Round(time.Millisecond), raceEnabled)

	curl := curlPath(t)
	if curl == "" {
		return
	}
	href := e.freshHref(t, p)
	cstart := time.Now()
	out, err := exec.Command(curl, "-sS", "-o", os.DevNull, "-w", "%{size_download}", href).Output()
	celapsed := time.Since(cstart)
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(bigFileSize) {
		t.Fatalf("curl: %v (%s)", err, out)
	}
	theirs := float64(bigFileSize) / celapsed.Seconds() / 1e6
	t.Logf("large file: curl %.0f MB/s (%v); y360backup/curl = %.2f", theirs, celapsed.Round(time.Millisecond), ours/theirs)

	// The closer peer: curl piped into sha256sum also verifies what it got.
	if _, err := exec.LookPath("sha256sum"); err != nil {
		return
	}
	cstart = time.Now()
	out, err = exec.Command("sh", "-c", `"$0" -sS "$1" | sha256sum`, curl, href).Output()
	celapsed = time.Since(cstart)
	if err != nil || !strings.HasPrefix(string(out), fi.SHA256) {
		t.Fatalf("curl | sha256sum: %v (%s)", err, out)
	}
	theirs = float64(bigFileSize) / celapsed.Seconds() / 1e6
	t.Logf("large file: curl | sha256sum %.0f MB/s (%v); y360backup/that = %.2f", theirs, celapsed.Round(time.Millisecond), ours/theirs)
}

// TestSmallFilesThroughput backs up many small files and compares files/s
// with one curl process fetching the same links sequentially (connection
// reuse, no verification, no storage).
func TestSmallFilesThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped under -short")
	}
	const n, size = 2000, 4 << 10
	e := newEnv(t)
	for i := range n {
		body := bytes.Repeat([]byte(fmt.Sprintf("%06d", i)), size/6+1)[:size]
		must(t, e.emu.DiskPutFile(e.user.Email, fmt.Sprintf("/d%02d/file %05d.txt", i%20, i), body, time.Time{}))
	}
	st := sourcetest.New()
	src := e.source(t, func(c *disk.Config) { c.PageSize = disk.DefaultPageSize })
	start := time.Now()
	e.mustBackup(t, src, st)
	elapsed := time.Since(start)
	if got := len(st.Items(disk.ContainerName)); got != n {
		t.Fatalf("stored %d of %d", got, n)
	}
	ours := float64(n) / elapsed.Seconds()
	t.Logf("small files: y360backup %.0f files/s (%d × %d B in %v, rate limits off; race=%v)", ours, n, size, elapsed.Round(time.Millisecond), raceEnabled)
	t.Logf("small files: with the default download_rps %d the source is capped at %d files/s per download host", disk.DefaultDownloadRPS, disk.DefaultDownloadRPS)

	curl := curlPath(t)
	if curl == "" {
		return
	}
	hrefs := e.listingHrefs(t)
	if len(hrefs) != n {
		t.Fatalf("%d links for %d files", len(hrefs), n)
	}
	cfg := filepath.Join(t.TempDir(), "curl.cfg")
	var b strings.Builder
	for _, h := range hrefs {
		fmt.Fprintf(&b, "url = %q\noutput = %q\n", h, os.DevNull)
	}
	must(t, os.WriteFile(cfg, []byte(b.String()), 0o600))
	cstart := time.Now()
	if out, err := exec.Command(curl, "-sS", "--fail", "-K", cfg).CombinedOutput(); err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	theirs := float64(n) / time.Since(cstart).Seconds()
	t.Logf("small files: curl %.0f files/s; y360backup/curl = %.2f", theirs, ours/theirs)
}

// freshHref asks the API for a download link of p.
func (e *env) freshHref(t *testing.T, p string) string {
	t.Helper()
	var l struct{ Href string }
	e.apiGet(t, "/v1/disk/resources/download?path="+url.QueryEscape(p), &l)
	return l.Href
}

// listingHrefs returns the "file" links of every file, from one listing.
func (e *env) listingHrefs(t *testing.T) []string {
	t.Helper()
	var pg struct{ Items []struct{ File string } }
	e.apiGet(t, "/v1/disk/resources/files?limit=100000&fields=items.file", &pg)
	out := make([]string, len(pg.Items))
	for i, it := range pg.Items {
		out[i] = it.File
	}
	return out
}

func (e *env) apiGet(t *testing.T, p string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.api+p, nil)
	tok, _ := e.tok.Token(context.Background())
	req.Header.Set("Authorization", "OAuth "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", p, resp.StatusCode, err)
	}
}

// curlPath finds curl, installing it with apt-get when missing and root;
// "" (with a logged reason) when the peer comparison cannot run.
func curlPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("curl"); err == nil {
		return p
	}
	if os.Geteuid() != 0 {
		t.Log("curl not installed and not root: skipping the curl comparison")
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c",
		"apt-get -o DPkg::Lock::Timeout=120 update -qq && apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends curl")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("installing curl failed (%v): %s; skipping the curl comparison", err, out)
		return ""
	}
	p, err := exec.LookPath("curl")
	if err != nil {
		t.Log("curl still missing after apt-get: skipping the curl comparison")
		return ""
	}
	return p
}

// memSampler records the peak heap in use and RSS above a baseline.
type memSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	base  memPeak
	peak  memPeak
}

type memPeak struct {
	heap, rss             uint64
	heapGrowth, rssGrowth int64
}

func startMemSampler() *memSampler {
	runtime.GC()
	debug.FreeOSMemory()
	m := &memSampler{stopc: make(chan struct{})}
	m.base = sampleMem()
	m.peak = m.base
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		tk := time.NewTicker(25 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-m.stopc:
				return
			case <-tk.C:
				s := sampleMem()
				m.peak.heap = max(m.peak.heap, s.heap)
				m.peak.rss = max(m.peak.rss, s.rss)
			}
		}
	}()
	return m
}

func (m *memSampler) stop() memPeak {
	close(m.stopc)
	m.wg.Wait()
	p := m.peak
	p.heapGrowth = int64(p.heap) - int64(m.base.heap)
	p.rssGrowth = int64(p.rss) - int64(m.base.rss)
	return p
}

func sampleMem() memPeak {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memPeak{heap: ms.HeapInuse, rss: readRSS()}
}

// readRSS returns VmRSS from /proc/self/status (0 where unavailable).
func readRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(n any) float64 {
	switch v := n.(type) {
	case int64:
		return float64(v) / (1 << 20)
	case uint64:
		return float64(v) / (1 << 20)
	}
	return 0
}
