package backup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
)

// Packs upload in the background, but nothing names a blob before its pack
// and index are stored: when the store refuses packs, the checkpoint fails,
// no snapshot is written, and the items never become visible.
func TestCheckpointFailsWhenPacksFailToStore(t *testing.T) {
	ctx := context.Background()
	sink := mem.New()
	r, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st := r.openUserStore("1", "fake", "run", nil)
	r.track(st)
	c, _ := st.Open(ctx, "INBOX")
	for i, body := range []string{"one", "two", "three", "four"} {
		b, err := c.PutBody(ctx, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		c.Put(sources.Item{ID: string(rune('a' + i)), Hash: b.Hash, Size: b.Size})
	}
	if err := c.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two", "three", "four"} {
		rc, err := r.OpenObject(ctx, sha256hex([]byte(body)))
		if err != nil {
			t.Errorf("object %q not readable after the checkpoint: %v", body, err)
			continue
		}
		rc.Close()
	}
	good, _ := st.snapshotHeads()
	// Now the sink refuses packs: the next checkpoint must fail.
	sink.FailPut = func(key string) error {
		if strings.HasPrefix(key, dataPrefix) {
			return errors.New("disk full")
		}
		return nil
	}
	b, err := c.PutBody(ctx, strings.NewReader("five"))
	if err != nil {
		t.Fatal(err)
	}
	c.Put(sources.Item{ID: "e", Hash: b.Hash, Size: b.Size})
	if err := c.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("checkpoint after a failed pack upload: %v", err)
	}
	c.Close()
	// A later process resumes from the last good checkpoint.
	cs, err := r.listCheckpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	heads, _ := r.startState(ctx, "1", "fake", nil, cs)
	if len(heads) != 1 || heads[0].Head != good[0].Head {
		t.Fatalf("resume heads %v, want the last good checkpoint %v", heads, good)
	}
	sink.FailPut = nil
	r2, _ := Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	st2 := r2.openUserStore("1", "fake", "run2", heads)
	c2, _ := st2.Open(ctx, "INBOX")
	if _, ok := c2.Get("e"); ok || c2.Len() != 4 {
		t.Errorf("an item whose body failed to store became visible (%d items)", c2.Len())
	}
}

// A pack that failed to upload fails its run, and only its run: the next
// run on the same Repository (a daemon's) stores everything again.
func TestFailedPackUploadFailsRunNotRepository(t *testing.T) {
	ctx := context.Background()
	sink := mem.New()
	r, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one", "2": "two"}}}}
	sink.FailPut = func(key string) error {
		if strings.HasPrefix(key, dataPrefix) {
			return errors.New("disk full")
		}
		return nil
	}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers[:1])); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("run with failing pack uploads: %v", err)
	}
	sink.FailPut = nil
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if got := restoreAll(t, r, s)["a@x.test"]["INBOX"]; len(got) != 2 || got["1"] != "one" {
		t.Errorf("after the store recovered: %v", got)
	}
}
