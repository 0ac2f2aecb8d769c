package y360emu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"
)

func TestDiskLockFault(t *testing.T) {
	e := newDiskEnv(t)
	if err := e.s.DiskPutFile(diskUser, "/busy.txt", []byte("x"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DiskLock(diskUser, "disk:/busy.txt", 2); err != nil {
		t.Fatal(err)
	}
	wantDiskError(t, e.get(t, "/v1/disk/resources/download", "path", "/busy.txt"), 423, "DiskResourceLockedError")
	wantDiskError(t, e.get(t, "/v1/disk/resources", "path", "/busy.txt"), 423, "DiskResourceLockedError")
	if r := e.get(t, "/v1/disk/resources/download", "path", "/busy.txt"); r.status != 200 {
		t.Fatalf("third request after a 2-answer lock: %d", r.status)
	}
	// Locked until unlocked: the download host refuses too.
	href := e.get(t, "/v1/disk/resources/download", "path", "/busy.txt").body["href"].(string)
	if err := e.s.DiskLock(diskUser, "/busy.txt", 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		wantDiskError(t, e.do(t, "GET", href, "", nil, nil), 423, "DiskResourceLockedError")
	}
	if err := e.s.DiskUnlock(diskUser, "/busy.txt"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "GET", href, "", nil, nil); r.status != 200 {
		t.Fatalf("after unlock: %d", r.status)
	}
}

func TestDiskCoreFaultsUseDiskStyle(t *testing.T) {
	e := newDiskEnv(t)
	if err := e.s.DiskPutFile(diskUser, "/f.txt", []byte("abc"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	href := e.get(t, "/v1/disk/resources/download", "path", "/f.txt").body["href"].(string)
	e.s.Throttle("/v1/disk/resources/files", "7", 1)
	e.s.Throttle(diskDownloadPrefix, "", 1)

	r := e.get(t, "/v1/disk/resources/files")
	wantDiskError(t, r, 429, "TooManyRequests")
	if r.header.Get("Retry-After") != "7" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	r = e.do(t, "GET", href, "", nil, nil)
	wantDiskError(t, r, 429, "TooManyRequests")
	if r.header.Get("Retry-After") != "" {
		t.Fatalf("unexpected Retry-After %q", r.header.Get("Retry-After"))
	}
	e.s.FailNext(diskDownloadPrefix, 503, 1) // faults firing together: the first wins, so add it now
	wantDiskError(t, e.do(t, "GET", href, "", nil, nil), 503, "ServiceUnavailable")
	if r := e.do(t, "GET", href, "", nil, nil); string(r.raw) != "abc" {
		t.Fatalf("after the faults: %d %q", r.status, r.raw)
	}
	if n := e.s.Count(diskDownloadPrefix); n != 3 {
		t.Fatalf("download host requests counted: %d, want 3", n)
	}
}

func TestDiskDropMidStreamThenResume(t *testing.T) {
	e := newDiskEnv(t)
	const size = 1 << 20
	if err := e.s.DiskPutGenerated(diskUser, "/big.bin", size, 7, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DiskDropDownloads(diskUser, "/big.bin", 300_000, 1); err != nil {
		t.Fatal(err)
	}
	href := e.get(t, "/v1/disk/resources/download", "path", "/big.bin").body["href"].(string)
	resp, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	first, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(first) != 300_000 || resp.ContentLength != size {
		t.Fatalf("dropped download: %d bytes of %d, err %v", len(first), resp.ContentLength, err)
	}
	req, _ := http.NewRequest("GET", href, nil)
	req.Header.Set("Range", "bytes=300000-")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 206 {
		t.Fatalf("resume: %d %v", resp.StatusCode, err)
	}
	full := sha256.Sum256(append(first, rest...))
	fi, _ := e.s.DiskStat(diskUser, "/big.bin")
	if hex.EncodeToString(full[:]) != fi.SHA256 {
		t.Fatal("resumed bytes differ from the advertised sha256")
	}
	if sent, n := e.s.DiskServed(diskUser, "/big.bin"); sent != size || n != 2 {
		t.Fatalf("served %d bytes in %d responses, want %d in 2", sent, n, size)
	}
}

func TestDiskCorruptServesOtherBytes(t *testing.T) {
	e := newDiskEnv(t)
	data := bytes.Repeat([]byte("abcdef"), 1000)
	if err := e.s.DiskPutFile(diskUser, "/c.bin", data, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DiskCorrupt(diskUser, "/c.bin", true); err != nil {
		t.Fatal(err)
	}
	meta := e.get(t, "/v1/disk/resources", "path", "/c.bin")
	sum := sha256.Sum256(data)
	if meta.body["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatal("metadata must keep advertising the true sha256")
	}
	href := meta.body["file"].(string)
	got := e.do(t, "GET", href, "", nil, nil).raw
	if len(got) != len(data) || bytes.Equal(got, data) {
		t.Fatalf("corrupt download: %d bytes, equal=%v", len(got), bytes.Equal(got, data))
	}
	// The flipped byte is the same whether read whole or by range.
	r := e.do(t, "GET", href, "", map[string]string{"Range": "bytes=2990-3009"}, nil)
	if !bytes.Equal(r.raw, got[2990:3010]) {
		t.Fatal("ranged corrupt read differs from the whole one")
	}
	if err := e.s.DiskCorrupt(diskUser, "/c.bin", false); err != nil {
		t.Fatal(err)
	}
	if got := e.do(t, "GET", href, "", nil, nil).raw; !bytes.Equal(got, data) {
		t.Fatal("corruption still on after switching it off")
	}
}

// A generated file is random access (any offset matches the stream read from
// 0) and costs no memory however large it is.
func TestDiskGeneratedContentRandomAccess(t *testing.T) {
	c := generatedContent(10_000, 3)
	all, _ := io.ReadAll(c.reader(0))
	if len(all) != 10_000 {
		t.Fatalf("generated %d bytes", len(all))
	}
	for _, off := range []int64{0, 1, 15, 16, 17, 4095, 9999} {
		got, _ := io.ReadAll(c.reader(off))
		if !bytes.Equal(got, all[off:]) {
			t.Fatalf("offset %d differs", off)
		}
	}
	if other, _ := io.ReadAll(generatedContent(10_000, 4).reader(0)); bytes.Equal(other, all) {
		t.Fatal("different seeds gave the same bytes")
	}

	e := newDiskEnv(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const huge = 2 << 30
	if err := e.s.DiskPutGenerated(diskUser, "/huge.iso", huge, 1, time.Time{}); err != nil {
		t.Fatal(err)
	}
	href := e.get(t, "/v1/disk/resources/download", "path", "/huge.iso").body["href"].(string)
	_ = href // listing a generated file would hash it; the download link does not
	r := e.do(t, "GET", href, "", map[string]string{"Range": "bytes=-100"}, nil)
	want, _ := io.ReadAll(generatedContent(huge, 1).reader(huge - 100))
	if r.status != 206 || !bytes.Equal(r.raw, want) {
		t.Fatalf("tail of a 2 GiB file: %d, %d bytes", r.status, len(r.raw))
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Fatalf("a 2 GiB generated file grew the heap by %d bytes", grew)
	}
}
