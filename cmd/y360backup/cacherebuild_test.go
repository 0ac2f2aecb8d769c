package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The local index cache is advisory (docs/repository.md): deleted between
// runs, it is rebuilt from the repository's index files and nothing is
// uploaded again. To make the next run offer the same bodies again, every
// message is copied into a new folder first (new UIDs, same bytes): with a
// lost or unsynced index those bodies would be stored a second time. First
// only the index cache goes, then the whole cache directory (index and
// container state).
func TestIndexCacheDeletedIsRebuilt(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2, harnessSeed(t))
	rt := h.fsRepo("repo")
	h.initRepo(rt)
	cacheDir := filepath.Join(h.dir, "cache-writer")
	cfg := h.config("writer", rt, 0, cacheDir)
	users := h.emails()
	h.addMail(users, []string{"INBOX", "Archive"}, 15)
	h.backupOK("first", cfg)
	repoID := h.repo(rt).Config().ID
	indexDir := filepath.Join(cacheDir, repoID, "index")
	if _, err := os.Stat(indexDir); err != nil {
		t.Fatalf("the first run left no local index cache: %v", err)
	}
	for i, rm := range []string{indexDir, cacheDir} {
		before := census(t, rt.sink)
		if err := os.RemoveAll(rm); err != nil {
			t.Fatal(err)
		}
		copied := 0
		for _, u := range users {
			copied += h.copyFolder(u, "INBOX", "Copy"+string(rune('A'+i)))
		}
		s, took := h.backupOK("after-rm", cfg)
		after := census(t, rt.sink)
		if _, err := os.Stat(indexDir); err != nil {
			t.Errorf("the run did not rebuild the local index cache: %v", err)
		}
		if s.Totals.Items != int64(copied) {
			t.Errorf("run after deleting %s recorded %d messages, want the %d copies", rm, s.Totals.Items, copied)
		}
		if s.Totals.Uploaded != 0 || after.DataPacks != before.DataPacks || after.DupBytes != before.DupBytes {
			t.Errorf("run after deleting %s uploaded %d bodies: data packs %d → %d, duplicate bytes %d → %d; want none",
				rm, s.Totals.Uploaded, before.DataPacks, after.DataPacks, before.DupBytes, after.DupBytes)
		}
		t.Logf("deleted %s: the next run (%s) rebuilt it from %d index files, recorded %d copied messages and uploaded %d bodies (data packs %d → %d, other packs %d → %d)",
			rm[len(h.dir)+1:], took.Round(1e6), before.IndexFiles, s.Totals.Items, s.Totals.Uploaded,
			before.DataPacks, after.DataPacks, before.Packs-before.DataPacks, after.Packs-after.DataPacks)
	}
	h.checkSnapshot(rt, users)
	h.verify(cfg)
}
