package disk_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

const (
	bigPath    = "/big.bin"
	bigSize    = 512 << 10
	victimPath = "/victim.txt"
	seeded     = 14 // files seedFaults puts, none empty
)

func seedFaults(t *testing.T, e *env) {
	t.Helper()
	for i := range 12 {
		e.put(t, fmt.Sprintf("/s/%02d.txt", i), strings.Repeat(fmt.Sprint(i), 100+i))
	}
	e.put(t, victimPath, "the victim of locks and corruption")
	if err := e.emu.DiskPutGenerated(e.user.Email, bigPath, bigSize, 5, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// Each fault switch alone, and mixed: the run ends with every file stored
// with exactly its bytes or failed by name, and a clean rerun completes.
func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*disk.Config)
		fault  func(t *testing.T, e *env)
		failed []string // disk paths expected in st.Failures
		// retried is how many download-host requests at least were answered
		// by the fault and repeated (proves the fault fired).
		retried int
		check   func(t *testing.T, e *env, st *sourcetest.MemStore)
	}{
		{name: "429 with Retry-After on the listing", fault: func(t *testing.T, e *env) {
			e.emu.Throttle("/v1/disk/resources/files", "1", 1)
		}, check: func(t *testing.T, e *env, _ *sourcetest.MemStore) {
			hits := e.emu.Hits("/v1/disk/resources/files")
			if len(hits) < 2 || hits[1].Time.Sub(hits[0].Time) < 900*time.Millisecond {
				t.Errorf("Retry-After: 1 not honoured: %v", hits)
			}
		}},
		{name: "429 without Retry-After on downloads", fault: func(t *testing.T, e *env) {
			e.emu.ThrottleEvery("/disk/", "", 3)
		}, retried: 6},
		{name: "5xx on listing and downloads", fault: func(t *testing.T, e *env) {
			e.emu.FailNext("/v1/disk/resources/files", 503, 2)
			e.emu.AddFault(y360emu.Fault{PathPrefix: "/disk/", Status: 500, Every: 4})
		}, retried: 4},
		{name: "connection dropped before the answer", fault: func(t *testing.T, e *env) {
			e.emu.AddFault(y360emu.Fault{PathPrefix: "/disk/", Drop: true, Next: 3})
		}, retried: 3},
		{name: "423 once then free", fault: func(t *testing.T, e *env) {
			must(t, e.emu.DiskLock(e.user.Email, victimPath, 1))
		}, retried: 1},
		{name: "423 for good", fault: func(t *testing.T, e *env) {
			must(t, e.emu.DiskLock(e.user.Email, victimPath, 0))
		}, failed: []string{"disk:" + victimPath}, check: func(t *testing.T, e *env, st *sourcetest.MemStore) {
			wantFailure(t, st, victimPath, "DiskResourceLockedError")
		}},
		{name: "download drops mid-stream once", fault: func(t *testing.T, e *env) {
			must(t, e.emu.DiskDropDownloads(e.user.Email, bigPath, 200_000, 1))
		}, check: func(t *testing.T, e *env, _ *sourcetest.MemStore) {
			// Resumed with Range: exactly the file's bytes crossed the wire.
			if b, n := e.emu.DiskServed(e.user.Email, bigPath); b != bigSize || n != 2 {
				t.Errorf("served %d bytes in %d responses, want %d in 2", b, n, bigSize)
			}
		}},
		{name: "download drops every time", fault: func(t *testing.T, e *env) {
			must(t, e.emu.DiskDropDownloads(e.user.Email, bigPath, 50_000, 0))
		}, failed: []string{"disk:" + bigPath}, check: func(t *testing.T, e *env, st *sourcetest.MemStore) {
			wantFailure(t, st, bigPath, "download interrupted")
			if _, n := e.emu.DiskServed(e.user.Email, bigPath); n != 1+disk.DefaultResumeAttempts {
				t.Errorf("%d responses, want 1 + %d resumes", n, disk.DefaultResumeAttempts)
			}
		}},
		{name: "bytes do not match the advertised sha256", fault: func(t *testing.T, e *env) {
			must(t, e.emu.DiskCorrupt(e.user.Email, victimPath, true))
		}, failed: []string{"disk:" + victimPath}, check: func(t *testing.T, e *env, st *sourcetest.MemStore) {
			wantFailure(t, st, victimPath, "does not match the advertised checksum")
		}},
		{name: "listing links expired", fault: func(t *testing.T, e *env) {
			e.rt.setAfter(func(r *http.Request, _ *http.Response) {
				if r.URL.Path == "/v1/disk/resources/files" {
					e.clk.Advance(y360emu.DefaultDiskHrefLifetime + time.Minute)
				}
			})
		}, check: func(t *testing.T, e *env, _ *sourcetest.MemStore) {
			if n := e.emu.Count("/v1/disk/resources/download"); n != 14 {
				t.Errorf("%d fresh links asked for, want one per file (14)", n)
			}
		}},
		{name: "fresh links only", mod: func(c *disk.Config) { c.FreshLinks = true }, check: func(t *testing.T, e *env, _ *sourcetest.MemStore) {
			if n := e.emu.Count("/v1/disk/resources/download"); n != 14 {
				t.Errorf("%d download links asked for, want 14", n)
			}
		}},
		{name: "mixed", fault: func(t *testing.T, e *env) {
			e.emu.ThrottleEvery("/v1/disk/", "", 4)
			e.emu.ThrottleEvery("/disk/", "", 5)
			e.emu.FailNext("/disk/", 502, 3)
			e.emu.AddFault(y360emu.Fault{PathPrefix: "/disk/", Drop: true, Every: 7, Next: 2})
			must(t, e.emu.DiskLock(e.user.Email, victimPath, 2))
			must(t, e.emu.DiskDropDownloads(e.user.Email, bigPath, 100_000, 2))
			must(t, e.emu.DiskCorrupt(e.user.Email, "/s/03.txt", true))
		}, failed: []string{"disk:/s/03.txt"}, retried: 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seedFaults(t, e)
			src := e.source(t, tc.mod)
			if tc.fault != nil {
				tc.fault(t, e)
			}
			st := sourcetest.New()
			st.DueEvery = 3
			if err := e.backup(t, src, st); err != nil {
				t.Fatalf("backup: %v", err)
			}
			failed := e.checkConsistent(t, st)
			slices.Sort(failed)
			for _, f := range st.Failures {
				t.Log("reported:", f)
			}
			if !slices.Equal(failed, tc.failed) || len(st.Failures) != len(tc.failed) {
				t.Fatalf("failed %v (failures %q), want %v", failed, st.Failures, tc.failed)
			}
			if n := e.emu.Count("/disk/"); n < seeded+tc.retried {
				t.Errorf("%d download-host requests, want at least %d + %d retried", n, seeded, tc.retried)
			}
			if tc.check != nil {
				tc.check(t, e, st)
			}

			// Faults gone: the next run completes the backup.
			e.rt.setAfter(nil)
			e.emu.ClearFaults()
			e.emu.ClearDiskFaults()
			st.Failures = nil
			e.mustBackup(t, src, st)
			if failed := e.checkConsistent(t, st); len(failed) > 0 {
				t.Fatalf("clean rerun left %v", failed)
			}
		})
	}
}

// A failed file that was stored before keeps its old version live: the
// failure is reported, nothing is lost, nothing wrong is recorded.
func TestChangedFileThatFailsKeepsOldVersion(t *testing.T) {
	e := newEnv(t)
	e.put(t, victimPath, "good old bytes")
	src := e.source(t, nil)
	st := sourcetest.New()
	e.mustBackup(t, src, st)
	old := st.Items(disk.ContainerName)["disk:"+victimPath]
	e.put(t, victimPath, "new bytes, served corrupt")
	must(t, e.emu.DiskCorrupt(e.user.Email, victimPath, true))
	if err := e.backup(t, src, st); err != nil {
		t.Fatal(err)
	}
	wantFailure(t, st, victimPath, "sha256")
	if got := st.Items(disk.ContainerName)["disk:"+victimPath]; got.Hash != old.Hash {
		t.Fatalf("failed update replaced the item: %s → %s", old.Hash, got.Hash)
	}
}

func wantFailure(t *testing.T, st *sourcetest.MemStore, p, substr string) {
	t.Helper()
	for _, f := range st.Failures {
		if strings.HasPrefix(f, "disk:"+p+": ") && strings.Contains(f, substr) {
			return
		}
	}
	t.Errorf("no failure for %s mentioning %q in %q", p, substr, st.Failures)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
