package backup

import (
	"context"
	"fmt"
	"testing"

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
	cs.indexGets = 0
	s2, err := withCache.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if cs.indexGets != 0 {
		t.Errorf("no-change run with a warm cache read %d index segments, want 0", cs.indexGets)
	}
	// Another writer (no cache) commits changes.
	other, _ := Open(ctx, cs, RepoOptions{SpoolDir: t.TempDir()})
	items["100"] = "new"
	delete(items, "000")
	s3, err := other.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	cs.indexGets, cs.indexKeys = 0, nil
	items["101"] = "newer"
	s4, err := withCache.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	// Only the other writer's new segments are read, not the whole chain.
	if int64(cs.indexGets) != s3.Totals.Segments {
		t.Errorf("run after another writer read %d segments, want the %d it wrote: %v", cs.indexGets, s3.Totals.Segments, cs.indexKeys)
	}
	if s4.Totals.Items != 1 || s4.Totals.Deleted != 0 {
		t.Errorf("run after another writer: %+v (stale cache would re-add or re-delete)", s4.Totals)
	}
	// Browsing the newest snapshot comes from the cache; an older one
	// replays its segments and still shows its own state.
	cs.indexGets = 0
	latest := restoreAll(t, withCache, s4)
	if cs.indexGets != 0 {
		t.Errorf("reading the newest snapshot read %d segments, want 0 (cache)", cs.indexGets)
	}
	if older := restoreAll(t, withCache, s2); len(older["a@x.test"]["INBOX"]) != 40 || cs.indexGets == 0 {
		t.Errorf("older snapshot: %d INBOX items after %d segment reads", len(older["a@x.test"]["INBOX"]), cs.indexGets)
	}
	_ = latest
	// Equal to a replay from scratch.
	fresh, _ := Open(ctx, cs, RepoOptions{SpoolDir: t.TempDir()})
	a, b := restoreAll(t, withCache, s4), restoreAll(t, fresh, s4)
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a["a@x.test"]["INBOX"]) != 41 {
		t.Errorf("cached and fresh views differ or wrong: %d vs %d items", len(a["a@x.test"]["INBOX"]), len(b["a@x.test"]["INBOX"]))
	}
}
