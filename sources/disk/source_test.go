package disk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// awkward are names that must round-trip as IDs and metadata.
var awkward = []string{
	"/Документы/Отчёт за 2024.txt",
	"/Фото/море 🌊 (копия).jpg",
	"/日本/テスト.md",
	"/..hidden/...",
	"/a..b/. .",
	"/a b  c/ leading and trailing space ",
	"/%2F not a slash/x?y#z&=.txt",
	"/" + strings.Repeat("ж", 251) + ".txt", // 255 characters
	"/deep/1/2/3/4/5/6/7/8/9/leaf.txt",
	"/empty.bin", // zero bytes
}

func seedAwkward(t *testing.T, e *env) {
	t.Helper()
	for i, p := range awkward {
		body := strings.Repeat(p, i)
		e.put(t, p, body)
	}
}

func TestFullThenIncremental(t *testing.T) {
	e := newEnv(t)
	seedAwkward(t, e)
	e.put(t, "/docs/keep.txt", "unchanged")
	e.put(t, "/docs/change.txt", "version 1")
	e.put(t, "/docs/move-me.txt", "I will move")
	e.put(t, "/docs/delete-me.txt", "I will be deleted")
	e.put(t, "/docs/touch.txt", "only my mtime changes")
	src := e.source(t, nil)
	st := sourcetest.New()
	st.DueEvery = 4 // several commits in one run

	e.mustBackup(t, src, st)
	e.checkConsistent(t, st)
	items := st.Items(disk.ContainerName)
	if len(items) != len(awkward)+5 {
		t.Fatalf("full run stored %d items, want %d", len(items), len(awkward)+5)
	}
	for _, p := range awkward {
		if _, ok := items["disk:"+p]; !ok {
			t.Errorf("awkward name %q did not round-trip", p)
		}
	}
	if st.Commits < 3 {
		t.Errorf("full run committed %d times, want several (Due)", st.Commits)
	}
	var cur disk.Cursor
	if err := json.Unmarshal(st.CommittedCursor(disk.ContainerName), &cur); err != nil || !cur.Complete || cur.Listed != len(items) {
		t.Fatalf("cursor after a full run: %+v (%v)", cur, err)
	}

	// Nothing changed: only listing requests, no byte downloaded, no body put.
	e.emu.ResetCounts()
	e.emu.ResetDiskServed()
	puts := st.BodyPuts
	e.mustBackup(t, src, st)
	for p, n := range e.emu.Counts() {
		if p != "/v1/disk/resources/files" {
			t.Errorf("no-change run requested %s (%d times)", p, n)
		}
	}
	if n := e.emu.Count("/v1/disk/resources/files"); n != 3 { // 15 files, pages of 7 overlapping by one
		t.Errorf("no-change run made %d listing requests, want 3", n)
	}
	if b := e.emu.DiskServedTotal(); b != 0 || st.BodyPuts != puts {
		t.Errorf("no-change run downloaded %d bytes, %d bodies", b, st.BodyPuts-puts)
	}

	// Added, changed, moved, deleted, metadata-only.
	e.put(t, "/docs/new.txt", "brand new")
	e.put(t, "/docs/change.txt", "version 2")
	if err := e.emu.DiskMove(e.user.Email, "/docs/move-me.txt", "/elsewhere/moved.txt"); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.DiskRemove(e.user.Email, "/docs/delete-me.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.DiskTouch(e.user.Email, "/docs/touch.txt", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	oldMove := items["disk:/docs/move-me.txt"]
	oldTouch := items["disk:/docs/touch.txt"]
	e.emu.ResetDiskServed()
	uploads := st.BodyUploads
	e.mustBackup(t, src, st)
	e.checkConsistent(t, st)
	items = st.Items(disk.ContainerName)
	if _, ok := items["disk:/docs/delete-me.txt"]; ok {
		t.Error("deleted file still live")
	}
	if _, ok := items["disk:/docs/move-me.txt"]; ok {
		t.Error("moved file still live at its old path")
	}
	if it := items["disk:/elsewhere/moved.txt"]; it.Hash != oldMove.Hash {
		t.Errorf("moved file: hash %q, want %q", it.Hash, oldMove.Hash)
	}
	if b, _ := e.emu.DiskServed(e.user.Email, "/elsewhere/moved.txt"); b != 0 {
		t.Errorf("moved file was downloaded again (%d bytes)", b)
	}
	touch := items["disk:/docs/touch.txt"]
	if touch.Hash != oldTouch.Hash || string(touch.Meta) == string(oldTouch.Meta) || !strings.Contains(string(touch.Meta), "2025-06-01") {
		t.Errorf("metadata-only change: %s → %s", oldTouch.Meta, touch.Meta)
	}
	if b, _ := e.emu.DiskServed(e.user.Email, "/docs/touch.txt"); b != 0 {
		t.Error("metadata-only change downloaded the file")
	}
	want := int64(len("brand new") + len("version 2"))
	if got := e.emu.DiskServedTotal(); got != want || st.BodyUploads-uploads != 2 {
		t.Errorf("incremental run downloaded %d bytes / %d new bodies, want %d / 2", got, st.BodyUploads-uploads, want)
	}
}

// A run cut mid-way (ctx cancelled) resumes without downloading again what
// it committed, or stored without committing.
func TestInterruptedRunResumesWithoutRedownloading(t *testing.T) {
	e := newEnv(t)
	const n = 30
	for i := range n {
		e.put(t, "/f/"+string(rune('a'+i%26))+strings.Repeat("x", i)+".txt", strings.Repeat("body", i+1))
	}
	src := e.source(t, nil)
	st := sourcetest.New()
	st.DueEvery = 5
	ctx, cancel := context.WithCancel(context.Background())
	var gets int
	e.rt.setAfter(func(r *http.Request, _ *http.Response) {
		if strings.HasPrefix(r.URL.Path, "/disk/") {
			if gets++; gets == 12 {
				cancel()
			}
		}
	})
	err := src.Backup(ctx, e.user, e.tok, st)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cut run: %v", err)
	}
	committed := len(st.Items(disk.ContainerName))
	if committed == 0 || committed >= n {
		t.Fatalf("cut run committed %d items, want some but not all", committed)
	}
	e.rt.setAfter(nil)
	e.emu.ResetDiskServed()
	e.mustBackup(t, src, st)
	e.checkConsistent(t, st)
	// Every file was fetched at most once over both runs, except the one in
	// flight when the run was cut.
	again := 0
	for _, p := range e.emu.DiskFiles(e.user.Email) {
		_, resp := e.emu.DiskServed(e.user.Email, p)
		again += resp
	}
	if again > n-11 {
		t.Errorf("second run fetched %d files, want at most %d (the %d not stored before the cut)", again, n-11, n-11)
	}
}

func TestIncludeExcludeMaxSize(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/Docs/a.pdf", "/Docs/sub/b.pdf", "/Docs/c.txt", "/Video/film.mp4", "/iso/x.ISO", "/big.bin", "/tmp/t.pdf"} {
		e.put(t, p, p)
	}
	e.put(t, "/big.bin", strings.Repeat("B", 100))
	st := sourcetest.New()
	src := e.source(t, func(c *disk.Config) {
		c.Exclude = []string{"/Video", "*.iso", "tmp"}
		c.MaxFileSize = 50
	})
	e.mustBackup(t, src, st)
	got := slices.Sorted(func(yield func(string) bool) {
		for id := range st.Items(disk.ContainerName) {
			if !yield(id) {
				return
			}
		}
	})
	want := []string{"disk:/Docs/a.pdf", "disk:/Docs/c.txt", "disk:/Docs/sub/b.pdf"}
	if !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	if !mentioned(st.Skips, "disk:/big.bin") || !strings.Contains(strings.Join(st.Skips, "\n"), "exceeds max_file_size 50") {
		t.Errorf("max size skip not reported: %v", st.Skips)
	}
	if !mentioned(st.Skips, "disk:/Video/film.mp4") {
		t.Errorf("excluded file not reported: %v", st.Skips)
	}

	// Narrowing the selection later does not record the files as deleted.
	src2 := e.source(t, func(c *disk.Config) { c.Include = []string{"/Docs/*.pdf"} })
	e.mustBackup(t, src2, st)
	if _, ok := st.Items(disk.ContainerName)["disk:/Docs/c.txt"]; !ok {
		t.Error("a file newly excluded was recorded as deleted")
	}
}

func TestTreeListingMatchesFlat(t *testing.T) {
	e := newEnv(t)
	seedAwkward(t, e)
	e.put(t, "/Video/skip.mp4", "v")
	e.put(t, "/Video/deeper/skip2.mp4", "v2")
	flat, tree := sourcetest.New(), sourcetest.New()
	e.mustBackup(t, e.source(t, func(c *disk.Config) { c.Exclude = []string{"/Video"} }), flat)
	e.emu.ResetCounts()
	e.mustBackup(t, e.source(t, func(c *disk.Config) { c.Exclude = []string{"/Video"}; c.Listing = disk.ListTree }), tree)
	a, b := flat.Items(disk.ContainerName), tree.Items(disk.ContainerName)
	if len(a) != len(awkward) || len(a) != len(b) {
		t.Fatalf("flat stored %d, tree %d, want %d", len(a), len(b), len(awkward))
	}
	for id, it := range a {
		if b[id].Hash != it.Hash || string(b[id].Meta) != string(it.Meta) {
			t.Errorf("%s differs between listings", id)
		}
	}
	if !mentioned(tree.Skips, "disk:/Video/") || e.emu.Count("/v1/disk/resources/files") != 0 {
		t.Errorf("tree walk: skips %v, flat list used %d times", tree.Skips, e.emu.Count("/v1/disk/resources/files"))
	}
}

// Files vanishing while the flat list is read shift later pages; the
// overlap notices, a second pass finds what the shift hid, and deletions
// are recorded from the stable pass.
func TestListingShiftIsDetected(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		e.put(t, "/"+n+".txt", n)
	}
	st := sourcetest.New()
	src := e.source(t, func(c *disk.Config) { c.PageSize = 2 })
	e.mustBackup(t, src, st)
	e.put(t, "/c2.txt", "new file that the shift would hide")
	if err := e.emu.DiskRemove(e.user.Email, "/f.txt", true); err != nil {
		t.Fatal(err)
	}
	pages := 0
	e.rt.setAfter(func(r *http.Request, _ *http.Response) {
		if r.URL.Path == "/v1/disk/resources/files" {
			if pages++; pages == 1 { // after page one (a, b): a and b go away
				for _, p := range []string{"/a.txt", "/b.txt"} {
					if err := e.emu.DiskRemove(e.user.Email, p, false); err != nil {
						t.Error(err)
					}
				}
			}
		}
	})
	e.mustBackup(t, src, st)
	e.checkConsistent(t, st)
	items := st.Items(disk.ContainerName)
	for _, gone := range []string{"disk:/a.txt", "disk:/b.txt", "disk:/f.txt"} {
		if _, ok := items[gone]; ok {
			t.Errorf("%s still live", gone)
		}
	}
	if _, ok := items["disk:/c2.txt"]; !ok {
		t.Error("file hidden by the shift was not stored")
	}
}

func TestUnauthorized(t *testing.T) {
	t.Run("re-mint once and go on", func(t *testing.T) {
		e := newEnv(t)
		seedAwkward(t, e)
		st := sourcetest.New()
		e.emu.RevokeAllTokens() // the cached token is now refused
		e.mustBackup(t, e.source(t, nil), st)
		e.checkConsistent(t, st)
		if e.tok.Invalidated != 1 {
			t.Errorf("Invalidate called %d times, want 1", e.tok.Invalidated)
		}
	})
	t.Run("refused twice ends the user", func(t *testing.T) {
		e := newEnv(t)
		seedAwkward(t, e)
		e.tok.Next = func() string { return "y0_emu.bad.bad" }
		e.tok.Tok = "y0_emu.bad.bad"
		err := e.backup(t, e.source(t, nil), sourcetest.New())
		if !errors.Is(err, sources.ErrUnauthorized) {
			t.Fatalf("want ErrUnauthorized, got %v", err)
		}
		if strings.Contains(err.Error(), "y0_emu") {
			t.Errorf("error leaks a token: %v", err)
		}
	})
}

// The API host and the download host each get their own token bucket.
func TestRateLimitPerHost(t *testing.T) {
	e := newEnv(t)
	for i := range 12 {
		e.put(t, "/r/"+strings.Repeat("f", i+1), strings.Repeat("x", i+1))
	}
	const rps = 8
	src := e.source(t, func(c *disk.Config) { c.RPS, c.DownloadRPS, c.PageSize = rps, rps, 2 })
	e.mustBackup(t, src, sourcetest.New())
	for _, prefix := range []string{"/v1/disk/resources/files", "/disk/"} {
		hits := e.emu.Hits(prefix)
		if len(hits) < 11 {
			t.Fatalf("%s: %d requests", prefix, len(hits))
		}
		// After the burst (rps requests), requests are spaced 1/rps apart.
		span := hits[len(hits)-1].Time.Sub(hits[rps-1].Time)
		want := time.Duration(len(hits)-rps) * time.Second / rps
		if span < want*8/10 {
			t.Errorf("%s: %d requests after the burst took %v, want ≥ %v", prefix, len(hits)-rps, span, want)
		}
	}
	// One shared bucket would have needed this long for all requests together.
	all := e.emu.Hits("/")
	if shared := time.Duration(len(all)-rps) * time.Second / rps; all[len(all)-1].Time.Sub(all[0].Time) > shared*8/10 {
		t.Errorf("the hosts seem to share one rate limit: %d requests took %v", len(all), all[len(all)-1].Time.Sub(all[0].Time))
	}
}

// A listing that fails part-way ends the user's run with an error, keeps
// (commits) what was stored, and deletes nothing.
func TestListingFailureKeepsProgressAndDeletesNothing(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		e.put(t, "/l/"+strings.Repeat("n", i+1), strings.Repeat("y", i+1))
	}
	st := sourcetest.New()
	src := e.source(t, func(c *disk.Config) { c.MaxRetries = 1 })
	e.mustBackup(t, src, st)
	before := len(st.Items(disk.ContainerName))
	for i := range 20 {
		e.put(t, "/m/"+strings.Repeat("n", i+1), strings.Repeat("z", i+1))
	}
	pages := 0
	e.rt.setAfter(func(r *http.Request, _ *http.Response) {
		if r.URL.Path == "/v1/disk/resources/files" {
			if pages++; pages == 1 {
				e.emu.FailNext("/v1/disk/resources/files", 503, 1000)
			}
		}
	})
	err := e.backup(t, src, st)
	if err == nil || !strings.Contains(err.Error(), e.user.Email) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want an error naming the user and the 503, got %v", err)
	}
	items := st.Items(disk.ContainerName)
	if len(items) <= before {
		t.Fatalf("first page's new files not committed: %d items, %d before", len(items), before)
	}
	for i := range 20 {
		if _, ok := items["disk:/l/"+strings.Repeat("n", i+1)]; !ok {
			t.Fatalf("unlisted file recorded as deleted after a failed listing")
		}
	}
	var cur disk.Cursor
	if json.Unmarshal(st.CommittedCursor(disk.ContainerName), &cur) != nil || cur.Complete {
		t.Fatalf("cursor after a failed run: %+v", cur)
	}
}

// failCommitStore refuses every commit.
type failCommitStore struct{ *sourcetest.MemStore }

func (s failCommitStore) Open(ctx context.Context, name string) (sources.Container, error) {
	c, err := s.MemStore.Open(ctx, name)
	return failCommit{c}, err
}

type failCommit struct{ sources.Container }

func (failCommit) Commit(context.Context, any) error { return errors.New("disk full") }

func TestCommitFailureEndsTheRun(t *testing.T) {
	e := newEnv(t)
	seedAwkward(t, e)
	st := failCommitStore{sourcetest.New()}
	st.DueEvery = 2
	err := e.backup(t, e.source(t, nil), st)
	if err == nil || !strings.Contains(err.Error(), "commit: disk full") {
		t.Fatalf("want the commit error, got %v", err)
	}
}
