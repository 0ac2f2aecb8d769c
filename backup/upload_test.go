package backup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
)

// Uploads run in the background, but a commit never names an object that
// failed to upload: it fails instead, and nothing it would have recorded
// becomes visible.
func TestCommitWaitsForUploadsAndFailsOnUploadError(t *testing.T) {
	ctx := context.Background()
	sink := mem.New()
	r, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir(), Uploads: 2})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := r.openUserStore(ctx, "1", "fake", "run")
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
	for _, body := range []string{"one", "two", "three", "four"} {
		if !r.HasObject(ctx, sha256hex([]byte(body))) {
			t.Errorf("object %q not stored when its segment was committed", body)
		}
	}
	// Now the sink refuses objects: the next commit must fail.
	sink.FailPut = func(key string) error {
		if strings.HasPrefix(key, "objects/") {
			return errors.New("disk full")
		}
		return nil
	}
	b, err := c.PutBody(ctx, strings.NewReader("five"))
	if err != nil {
		t.Fatal(err)
	}
	c.Put(sources.Item{ID: "e", Hash: b.Hash, Size: b.Size})
	if err := c.Commit(ctx, 2); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("commit after a failed upload: %v", err)
	}
	c.Close()
	st2, _ := r.openUserStore(ctx, "1", "fake", "run2")
	c2, _ := st2.Open(ctx, "INBOX")
	if _, ok := c2.Get("e"); ok || c2.Len() != 4 {
		t.Errorf("an item whose body failed to upload became visible (%d items)", c2.Len())
	}
}
