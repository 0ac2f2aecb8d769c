package disk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// seedBulk puts n files of size bytes in a few folders and returns the
// account as the tests compare it.
func seedBulk(t *testing.T, d *renv, n, size int) map[string]diskFile {
	t.Helper()
	for i := range n {
		body := []byte(strings.Repeat(fmt.Sprintf("%04d", i), size/4+1)[:size])
		must(t, d.emu.DiskPutFile(d.user.Email, fmt.Sprintf("/f%d/s%d/file %03d.txt", i%3, i%2, i), body, snapTime))
	}
	return d.account(t, d.user.Email)
}

// A restore cut off after N uploads and run again uploads every file
// exactly once (counted by the emulator) and leaves each with its bytes
// and its original modified time.
func TestRestoreInterruptedRerun(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			d := newRestoreEnv(t, func(c *disk.Config) { c.RestoreWorkers = workers })
			email := d.user.Email
			const n, cutAfter = 60, 23
			before := seedBulk(t, d, n, 300)
			snap := d.backup(t)
			d.wipe(t, email)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			done := 0
			d.rt.setAfter(func(r *http.Request, resp *http.Response) {
				if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/upload-target/") || resp.StatusCode != http.StatusCreated {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if done++; done == cutAfter {
					cancel() // between the upload and its PATCH, for this file
				}
			})
			opts := d.opts(snap)
			opts.InPlace = true
			if _, err := d.repo.Restore(ctx, opts); !errors.Is(err, context.Canceled) {
				t.Fatalf("cut-off restore: err %v, want context.Canceled", err)
			}
			d.rt.setAfter(nil)
			mid := len(d.emu.DiskFiles(email))
			if mid < cutAfter || mid > cutAfter+workers {
				t.Errorf("%d files after a cut at %d uploads with %d workers", mid, cutAfter, workers)
			}
			rep := d.restore(t, opts)
			t.Logf("cut after %d uploads: %d files there; rerun wrote %d", cutAfter, mid, rep.Written)
			// An upload in flight at the cut may land after the cut-off run
			// returned (the server finishes what it received), so the rerun
			// may find a few more than mid; it never writes one twice.
			if rep.Written > n-mid || rep.Written < n-mid-workers {
				t.Errorf("rerun wrote %d, want %d (up to %d fewer)", rep.Written, n-mid, workers)
			}
			if got := uploadsOK(t, d.emu, email); got != n {
				t.Errorf("%d uploads in all for %d files", got, n)
			}
			assertHolds(t, d.account(t, email), before, nil)
		})
	}
}

// 507: the file that does not fit is named, the container stops (nothing
// more is attempted), and after space is freed a rerun finishes the job.
func TestRestoreInsufficientStorage(t *testing.T) {
	d := newRestoreEnv(t, func(c *disk.Config) { c.RestoreWorkers = 2 })
	email := d.user.Email
	const n, size = 20, 1000
	before := seedBulk(t, d, n, size)
	snap := d.backup(t)
	for _, p := range d.emu.DiskFiles(email) {
		must(t, d.emu.DiskRemove(email, p, true))
	}
	d.emu.SetDiskTotalSpace(email, 10*size+size/2) // ten files fit
	d.emu.ResetCounts()

	opts := d.opts(snap)
	opts.InPlace = true
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	text := failuresText(rep)
	t.Logf("report: wrote %d, failures:\n%s", rep.Written, text)
	if rep.Written != 10 || rep.Failed != 1 || !strings.Contains(text, "(container)") ||
		!strings.Contains(text, "507") || !strings.Contains(text, "not enough free space") || !strings.Contains(text, "/file ") {
		t.Errorf("wrote %d, %d failures; want 10 and one naming the file and 507", rep.Written, rep.Failed)
	}
	if regexp.MustCompile(`/upload-target/[0-9a-f]{6}`).MatchString(text) || !strings.Contains(text, "/upload-target/…") {
		t.Errorf("the report repeats the upload link:\n%s", text)
	}
	if puts := d.emu.Count("/upload-target/"); puts > 10+2 {
		t.Errorf("%d PUTs: the restore went on after the 507", puts)
	}

	d.emu.SetDiskTotalSpace(email, 0)
	rep = d.restore(t, opts)
	if rep.Written != n-10 {
		t.Errorf("rerun wrote %d, want %d", rep.Written, n-10)
	}
	uploadsOK(t, d.emu, email)
	assertHolds(t, d.account(t, email), before, nil)
}

// 429 and 5xx on every kind of request are retried with back-off, the
// body read again from the repository; nothing is uploaded twice.
func TestRestoreRateLimitedAndFlaky(t *testing.T) {
	// Concurrent workers share the faults' counters, so one request can be
	// unlucky several times in a row: allow more retries than the default.
	d := newRestoreEnv(t, func(c *disk.Config) { c.MaxRetries = 12 })
	email := d.user.Email
	const n = 30
	before := seedBulk(t, d, n, 500)
	snap := d.backup(t)
	d.wipe(t, email)
	d.emu.ResetCounts()
	d.emu.ThrottleEvery("/upload-target/", "", 3)
	d.emu.ThrottleEvery("/v1/disk/resources/upload", "", 4)
	d.emu.ThrottleEvery("/v1/disk/resources", "", 7) // mkdir, PATCH, look-ups too
	d.emu.FailNext("/upload-target/", http.StatusServiceUnavailable, 5)

	opts := d.opts(snap)
	opts.InPlace = true
	rep := d.restore(t, opts)
	d.emu.ClearFaults()
	if rep.Written != n {
		t.Errorf("wrote %d of %d", rep.Written, n)
	}
	if puts := d.emu.Count("/upload-target/"); puts <= n+5 {
		t.Errorf("%d PUTs for %d files: the faults did not fire", puts, n)
	}
	if got := uploadsOK(t, d.emu, email); got != n {
		t.Errorf("%d uploads stored for %d files", got, n)
	}
	assertHolds(t, d.account(t, email), before, nil)
}

// A refused token is re-minted once; refused again, the container fails
// with the 401 and nothing is written.
func TestRestoreUnauthorized(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	seedBulk(t, d, 5, 10)
	snap := d.backup(t)
	d.wipe(t, email)

	mints := 0
	toks := &sourcetest.StaticTokens{Tok: "not-a-token", Next: func() string { mints++; return d.emu.MintToken(email, rwScopes()...) }}
	opts := d.opts(snap)
	opts.InPlace = true
	opts.Tokens = func(sources.User) sources.TokenSource { return toks }
	rep := d.restore(t, opts)
	// Workers that saw the 401 together each invalidate "not-a-token";
	// only the first re-mints.
	if toks.Invalidated < 1 || toks.Invalidated > disk.DefaultRestoreWorkers || mints != 1 || rep.Written != 5 {
		t.Errorf("invalidated %d, minted %d, wrote %d", toks.Invalidated, mints, rep.Written)
	}

	d.wipe(t, email)
	toks.Tok, toks.Next = "bad-1", func() string { return "bad-2" }
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Written != 0 || rep.Failed != 1 || !strings.Contains(failuresText(rep), "401") || len(d.emu.DiskFiles(email)) != 0 {
		t.Errorf("report %+v: want one container failure naming 401", rep)
	}
}

// Uploads the service accepts with 202 are followed through their
// operation until the file is there.
func TestRestoreAsyncUploads(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	before := seedBulk(t, d, 6, 100)
	snap := d.backup(t)
	d.wipe(t, email)
	d.emu.SetDiskUploadAsync(3)
	d.emu.ResetCounts()
	opts := d.opts(snap)
	opts.InPlace = true
	rep := d.restore(t, opts)
	if rep.Written != 6 || d.emu.Count("/v1/disk/operations/") != 6*3 {
		t.Errorf("wrote %d with %d operation polls, want 6 with 18", rep.Written, d.emu.Count("/v1/disk/operations/"))
	}
	assertHolds(t, d.account(t, email), before, nil)
}

// An upload whose connection stops taking bytes is cut after StallTimeout
// and sent again with a fresh link.
func TestRestoreStalledUpload(t *testing.T) {
	d := newRestoreEnv(t, func(c *disk.Config) { c.StallTimeout = 200 * time.Millisecond; c.RestoreWorkers = 1 })
	email := d.user.Email
	must(t, d.emu.DiskPutFile(email, "/s/stall.bin", []byte(strings.Repeat("z", 100_000)), snapTime))
	before := d.account(t, email)
	snap := d.backup(t)
	d.wipe(t, email)
	d.emu.ResetCounts()
	var once sync.Once
	d.rt.setBefore(func(r *http.Request) (*http.Response, bool, error) {
		stalled := false
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/upload-target/") {
			once.Do(func() { stalled = true })
		}
		if !stalled {
			return nil, false, nil
		}
		// Take a little of the body, then hang like a dead connection.
		_, _ = io.ReadFull(r.Body, make([]byte, 1000))
		<-r.Context().Done()
		return nil, true, r.Context().Err()
	})
	opts := d.opts(snap)
	opts.InPlace = true
	start := time.Now()
	rep := d.restore(t, opts)
	if el := time.Since(start); rep.Written != 1 || el > 5*time.Second {
		t.Errorf("wrote %d in %v", rep.Written, el)
	}
	if links := d.emu.Count("/v1/disk/resources/upload"); links != 3 { // parent missing, stalled, fresh
		t.Errorf("%d upload links, want 3", links)
	}
	uploadsOK(t, d.emu, email)
	assertHolds(t, d.account(t, email), before, nil)
}

// A corrupt object in the repository never becomes a file: the body is
// cut before its last byte, the file is named in the report, the rest is
// restored.
func TestRestoreCorruptObject(t *testing.T) {
	sink := mem.New()
	d := newRestoreEnvOn(t, sink, nil)
	email := d.user.Email
	must(t, d.emu.DiskPutFile(email, "/a/good.txt", []byte("good body"), snapTime))
	must(t, d.emu.DiskPutFile(email, "/a/bad.txt", []byte("evil body"), snapTime))
	good, _ := d.emu.DiskStat(email, "/a/good.txt")
	bad, _ := d.emu.DiskStat(email, "/a/bad.txt")
	snap := d.backup(t)
	d.wipe(t, email)
	must(t, d.repo.DamageObject(context.Background(), bad.SHA256, func(key string, data []byte) error {
		sink.Corrupt(key, data)
		return nil
	}))

	opts := d.opts(snap)
	opts.InPlace = true
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Written != 1 || rep.Failed != 1 || !strings.Contains(failuresText(rep), "disk:/a/bad.txt: ") || !strings.Contains(failuresText(rep), "corrupt") {
		t.Errorf("report %+v", rep)
	}
	if _, ok := d.emu.DiskStat(email, "/a/bad.txt"); ok {
		t.Error("the corrupt object was uploaded as a file")
	}
	if fi, ok := d.emu.DiskStat(email, "/a/good.txt"); !ok || fi.SHA256 != good.SHA256 {
		t.Error("the good file was not restored")
	}
}
