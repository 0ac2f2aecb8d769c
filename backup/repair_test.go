package backup

import (
	"context"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sinks"
)

// After a pack is lost, a plain backup stores nothing new (the index still
// names the pack) and verify reports the loss; Repair rewrites the index and
// re-fetches exactly what was lost, after which verify is clean and every
// item restores.
func TestRepairRefetchesLostBodies(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	defer r.Close()
	data := map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "one", "2": "two"}, "Sent": {"9": "nine"}},
		"b@x.test": {"INBOX": {"1": "uno"}},
	}
	src := &fakeSource{data: data}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers[:2])); err != nil {
		t.Fatal(err)
	}
	key, _, _, err := r.ObjectLocation(ctx, sha256hex([]byte("two")))
	if err != nil {
		t.Fatal(err)
	}
	sink.Delete(ctx, key)
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:2]))
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := r.Verify(ctx, s, VerifyOptions{}); !strings.Contains(strings.Join(rep.Problems, "\n"), "missing") {
		t.Fatalf("verify after a lost pack: %v", rep.Problems)
	}

	rep, err := r.Repair(ctx, runOpts(src, twoUsers[:2]))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.LostPacks) != 1 || rep.LostBlobs == 0 || len(rep.Containers) == 0 || rep.Snapshot == nil {
		t.Fatalf("repair report: %+v", rep)
	}
	vr, err := r.Verify(ctx, rep.Snapshot, VerifyOptions{})
	if err != nil || len(vr.Problems) != 0 {
		t.Fatalf("verify after repair: %v %v", vr.Problems, err)
	}
	got := restoreAll(t, r, rep.Snapshot)
	for u, conts := range data {
		for c, items := range conts {
			for id, body := range items {
				if got[u][c][id] != body {
					t.Errorf("%s %s %s: restored %q, want %q", u, c, id, got[u][c][id], body)
				}
			}
		}
	}
	// Nothing lost now: a second repair only reports.
	rep, err = r.Repair(ctx, runOpts(src, twoUsers[:2]))
	if err != nil || len(rep.LostPacks) != 0 || rep.Snapshot != nil {
		t.Fatalf("second repair: %+v %v", rep, err)
	}
}

// A pack uploaded without its index file (a kill between the two) is
// adopted: its blobs are indexed and not stored again.
func TestRepairAdoptsOrphanPacks(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one", "2": "two"}}}}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers[:1])); err != nil {
		t.Fatal(err)
	}
	// Forget every index file, as if the run had died before writing them.
	var idx []string
	sink.List(ctx, indexPrefix, func(oi sinks.ObjectInfo) error { idx = append(idx, oi.Key); return nil })
	for _, k := range idx {
		sink.Delete(ctx, k)
	}
	r.Close()
	r2, err := Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	rep, err := r2.Repair(ctx, runOpts(src, twoUsers[:1]))
	if err != nil || len(rep.Adopted) == 0 || len(rep.Unusable) != 0 || len(rep.LostPacks) != 0 {
		t.Fatalf("repair: %+v %v", rep, err)
	}
	if !r2.HasObject(ctx, sha256hex([]byte("two"))) {
		t.Fatal("an adopted pack's blob is not known")
	}
	s, err := r2.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil || s.Totals.Uploaded != 0 {
		t.Fatalf("backup after adoption stored %d objects again (%v)", s.Totals.Uploaded, err)
	}
	if vr, err := r2.Verify(ctx, s, VerifyOptions{}); err != nil || len(vr.Problems) != 0 || vr.UnindexedPacks != 0 {
		t.Fatalf("verify after adoption: %+v %v", vr, err)
	}
}
