package disk_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources/disk"
)

// Restore measurements next to the backup of the same corpus, through the
// engine (numbers in the log, not assertions: CI machines vary, and under
// -race they measure instrumented code). The emulator answers in
// microseconds, so these are our side's costs: repository read,
// decompression and verification, HTTP, and the emulator hashing and
// storing what it receives.

// restoreBigSize is the large file's size; Y360_TEST_DISK_RESTORE_BIG
// overrides it (bytes).
func restoreBigSize(t *testing.T) int64 {
	if v := os.Getenv("Y360_TEST_DISK_RESTORE_BIG"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("Y360_TEST_DISK_RESTORE_BIG=%q", v)
		}
		return n
	}
	return 1 << 30
}

// TestRestoreLargeFileBoundedMemory backs a generated 1 GiB file up into
// an fs repository, deletes it, restores it, and checks that the heap
// does not grow with the file while it streams from the repository to the
// upload host (the emulator spools the upload to disk).
func TestRestoreLargeFileBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a gigabyte four times; skipped under -short")
	}
	size := restoreBigSize(t)
	sink, err := fs.Open(fs.Config{Path: t.TempDir()})
	must(t, err)
	d := newRestoreEnvOn(t, sink, nil)
	email := d.user.Email
	const p = "/Видео/большой файл.bin"
	must(t, d.emu.DiskPutGenerated(email, p, size, 77, snapTime))
	fi, _ := d.emu.DiskStat(email, p) // hash now, not inside the timed backup
	d.emu.SetDiskUploadSpool(t.TempDir())
	d.emu.SetDiskMaxUpload(size + 1)

	start := time.Now()
	snap := d.backup(t)
	bt := time.Since(start)
	must(t, d.emu.DiskRemove(email, p, true))

	opts := d.opts(snap)
	opts.InPlace = true
	mem := startMemSampler()
	start = time.Now()
	rep := d.restore(t, opts)
	rt := time.Since(start)
	peak := mem.stop()

	got, ok := d.emu.DiskStat(email, p)
	if rep.Written != 1 || !ok || got.Size != size || got.SHA256 != fi.SHA256 {
		t.Fatalf("restored %+v (%v), want %d bytes sha256 %s", got, ok, size, fi.SHA256)
	}
	if got.Properties[disk.DefaultModifiedProperty] != snapTime.Format("2006-01-02T15:04:05-07:00") {
		t.Errorf("modified property %v", got.Properties)
	}
	mb := float64(size) / 1e6
	t.Logf("large file (%d MiB): backup %.0f MB/s (%v), restore %.0f MB/s (%v); restore/backup = %.2f (race=%v)",
		size>>20, mb/bt.Seconds(), bt.Round(time.Millisecond), mb/rt.Seconds(), rt.Round(time.Millisecond), bt.Seconds()/rt.Seconds(), raceEnabled)
	t.Logf("memory while restoring: heap in use +%.1f MiB (peak %.1f MiB), RSS +%.1f MiB (peak %.1f MiB)",
		mib(peak.heapGrowth), mib(peak.heap), mib(peak.rssGrowth), mib(peak.rss))
	if peak.heapGrowth > 64<<20 {
		t.Errorf("heap grew by %.1f MiB while restoring", mib(peak.heapGrowth))
	}
	if peak.rss > 0 && peak.rssGrowth > 128<<20 {
		t.Errorf("RSS grew by %.1f MiB while restoring", mib(peak.rssGrowth))
	}
}

// TestRestoreSmallFilesThroughput backs up and restores the same 2000
// small files, with one upload at a time and with the default workers.
func TestRestoreSmallFilesThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement; skipped under -short")
	}
	const n, size = 2000, 4 << 10
	for _, workers := range []int{1, disk.DefaultRestoreWorkers} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			d := newRestoreEnv(t, func(c *disk.Config) { c.RestoreWorkers = workers; c.PageSize = disk.DefaultPageSize })
			email := d.user.Email
			for i := range n {
				body := bytes.Repeat([]byte(fmt.Sprintf("%06d", i)), size/6+1)[:size]
				must(t, d.emu.DiskPutFile(email, fmt.Sprintf("/d%02d/file %05d.txt", i%20, i), body, snapTime))
			}
			start := time.Now()
			snap := d.backup(t)
			bt := time.Since(start)
			d.wipe(t, email)
			d.emu.ResetCounts()
			opts := d.opts(snap)
			opts.InPlace = true
			start = time.Now()
			rep := d.restore(t, opts)
			rt := time.Since(start)
			if rep.Written != n || len(d.emu.DiskFiles(email)) != n {
				t.Fatalf("wrote %d, %d files", rep.Written, len(d.emu.DiskFiles(email)))
			}
			t.Logf("small files (%d × %d B), %d restore workers: backup %.0f files/s (%v), restore %.0f files/s (%v), %d requests (%.1f per file); restore/backup = %.2f (race=%v)",
				n, size, workers, n/bt.Seconds(), bt.Round(time.Millisecond), n/rt.Seconds(), rt.Round(time.Millisecond),
				totalRequests(d.emu), float64(totalRequests(d.emu))/n, bt.Seconds()/rt.Seconds(), raceEnabled)
		})
	}
	t.Logf("with the default rps %d on the API host, a restore needs 2 API requests per file (link, PATCH): at most %d files/s, %d with modified_property %q",
		disk.DefaultRPS, disk.DefaultRPS/2, disk.DefaultRPS, disk.NoModifiedProperty)
}
