package backup

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	fssink "github.com/y360backup/y360backup/sinks/fs"

	"github.com/y360backup/y360backup/sinks/mem"
)

// With the state cache, a no-change run reads no index segment; a second
// writer's commits (another host, a lost cache) are picked up by replaying
// only what came after the cached head; the result always equals a replay
// from scratch.
func TestStateCache(t *testing.T) {
	ctx := context.Background()
	cs := &countingSink{Sink: mem.New()}
	cacheDir := t.TempDir()
	withCache, err := OpenOrInit(ctx, cs, RepoOptions{SpoolDir: t.TempDir(), CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]string{}
	for i := 0; i < 40; i++ {
		items[fmt.Sprintf("%03d", i)] = fmt.Sprint("body ", i)
	}
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": items, "Sent": {"1": "s"}}}}
	if _, err := withCache.Backup(ctx, runOpts(src, twoUsers[:1])); err != nil {
		t.Fatal(err)
	}
	before := withCache.treeReads.Load()
	s2, err := withCache.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if n := withCache.treeReads.Load() - before; n != 0 {
		t.Errorf("no-change run with a warm cache read %d segments, want 0", n)
	}
	// Another writer (no cache) commits changes.
	other, _ := Open(ctx, cs, RepoOptions{SpoolDir: t.TempDir()})
	items["100"] = "new"
	delete(items, "000")
	s3, err := other.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	items["101"] = "newer"
	before = withCache.treeReads.Load()
	s4, err := withCache.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	// The cache no longer matches the head: the chain is replayed (a base
	// and the other writer's deltas), bounded by baseMaxDeltas.
	if n := withCache.treeReads.Load() - before; n == 0 || n > baseMaxDeltas+8 || s3.Totals.Segments == 0 {
		t.Errorf("run after another writer read %d segments (other wrote %d)", n, s3.Totals.Segments)
	}
	if s4.Totals.Items != 1 || s4.Totals.Deleted != 0 {
		t.Errorf("run after another writer: %+v (stale cache would re-add or re-delete)", s4.Totals)
	}
	// Browsing the newest snapshot comes from the cache; an older one
	// replays its segments and still shows its own state.
	before = withCache.treeReads.Load()
	latest := restoreAll(t, withCache, s4)
	if n := withCache.treeReads.Load() - before; n != 0 {
		t.Errorf("reading the newest snapshot read %d segments, want 0 (cache)", n)
	}
	before = withCache.treeReads.Load()
	if older := restoreAll(t, withCache, s2); len(older["a@x.test"]["INBOX"]) != 40 || withCache.treeReads.Load() == before {
		t.Errorf("older snapshot: %d INBOX items after %d segment reads", len(older["a@x.test"]["INBOX"]), withCache.treeReads.Load()-before)
	}
	_ = latest
	// Equal to a replay from scratch.
	fresh, _ := Open(ctx, cs, RepoOptions{SpoolDir: t.TempDir()})
	a, b := restoreAll(t, withCache, s4), restoreAll(t, fresh, s4)
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a["a@x.test"]["INBOX"]) != 41 {
		t.Errorf("cached and fresh views differ or wrong: %d vs %d items", len(a["a@x.test"]["INBOX"]), len(b["a@x.test"]["INBOX"]))
	}
}

// Deleting the local caches between runs: the next run rebuilds the index
// from the repository's index files and uploads no body again.
func TestDeletedCachesRebuiltNothingUploadedAgain(t *testing.T) {
	ctx := context.Background()
	sinkDir, cacheDir := t.TempDir(), t.TempDir()
	c := fssink.NewConfig()
	c.Path = sinkDir
	sink, err := fssink.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *Repository {
		r, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir(), CacheDir: cacheDir})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	items := map[string]string{}
	for i := 0; i < 30; i++ {
		items[fmt.Sprint(i)] = fmt.Sprintf("message %d %s", i, strings.Repeat("x", i*100))
	}
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": items}}}
	r := open()
	if _, err := r.Backup(ctx, runOpts(src, twoUsers[:1])); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := os.RemoveAll(cacheDir); err != nil {
		t.Fatal(err)
	}
	items["new"] = "one new message"
	r = open()
	defer r.Close()
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Uploaded != 1 || s.Totals.Items != 1 {
		t.Errorf("after deleting the caches: %d bodies uploaded, %d items recorded; want 1 and 1", s.Totals.Uploaded, s.Totals.Items)
	}
	if got := restoreAll(t, r, s)["a@x.test"]["INBOX"]; len(got) != 31 {
		t.Errorf("restored %d items, want 31", len(got))
	}
}

// A second process (a new Repository on the same cache directory) finds
// everything the first one wrote: its index cache entries survive Close.
func TestReopenWithSameCacheFindsEverything(t *testing.T) {
	ctx := context.Background()
	c := fssink.NewConfig()
	c.Path = t.TempDir()
	sink, err := fssink.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "x", "2": "y"}}}}
	r, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir(), CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers[:1])); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r2, err := Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir(), CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	s, err := r2.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Items != 0 || s.Totals.Uploaded != 0 {
		t.Errorf("second process re-recorded %d items, re-uploaded %d bodies: its cache lost the first one's work", s.Totals.Items, s.Totals.Uploaded)
	}
	if got := restoreAll(t, r2, s)["a@x.test"]["INBOX"]; len(got) != 2 {
		t.Errorf("restored %v", got)
	}
}
