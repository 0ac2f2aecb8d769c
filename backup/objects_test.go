package backup

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sinks/mem"
)

func TestPutObjectSizes(t *testing.T) {
	ctx := context.Background()
	spool := t.TempDir()
	sink := mem.New()
	r, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1, 1000, bigBody, bigBody + 1, 3 << 20, chunkMin, chunkMin + 1, 21 << 20}
	bodies := map[string][]byte{}
	for i, n := range sizes {
		body := mailLike(n, uint64(i))
		b, ps, err := r.PutObject(ctx, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if b.Size != int64(n) || b.Hash != pack.Hash(body).String() {
			t.Fatalf("%d bytes: got size %d hash %s", n, b.Size, b.Hash)
		}
		if n > 0 && !ps.Uploaded {
			t.Fatalf("%d bytes: a new body was not stored", n)
		}
		if n > 100_000 && float64(ps.Compressed) > 0.8*float64(n) {
			t.Fatalf("%d bytes stored as %d: base64 runs were not packed", n, ps.Compressed)
		}
		if _, ps, err := r.PutObject(ctx, bytes.NewReader(body)); err != nil || ps.Uploaded {
			t.Fatalf("%d bytes again: uploaded %v, err %v", n, ps.Uploaded, err)
		}
		bodies[b.Hash] = body
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spool); len(spoolFiles(left, "y360body-")) != 0 {
		t.Fatalf("body spool files left behind: %v", spoolFiles(left, "y360body-"))
	}
	r.Close()
	// A fresh process (new cache) reads every body back byte for byte.
	r2, err := Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for h, want := range bodies {
		rc, err := r2.OpenObject(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("body %s (%d bytes): read %d bytes, err %v", h[:12], len(want), len(got), err)
		}
		if len(want) == 0 || len(want) > chunkMin {
			continue
		}
		id, _ := parseHash(h)
		loc, ok, err := r2.blobs.lookup(ctx, id)
		if err != nil || !ok || loc.Type != index.TypeData64 {
			t.Fatalf("body %s: stored as type %d (found %v, %v), want data64", h[:12], loc.Type, ok, err)
		}
	}
}

func spoolFiles(es []os.DirEntry, prefix string) []string {
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

type sized struct {
	io.Reader
	n int64
}

func (s sized) Size() int64 { return s.n }

// A reader that announces its size is stored in one pass, with the same
// address and bytes as any other; one that lies is refused, not truncated.
func TestPutObjectSizedReader(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	for _, n := range []int{bigBody, 3 << 20, chunkMin} {
		body := mailLike(n, 7)
		b, ps, err := r.PutObject(ctx, sized{bytes.NewReader(body), int64(n)})
		if err != nil || !ps.Uploaded || b.Hash != pack.Hash(body).String() || b.Size != int64(n) {
			t.Fatalf("%d bytes: %+v %+v %v", n, b, ps, err)
		}
		if _, ps, err := r.PutObject(ctx, sized{bytes.NewReader(body), int64(n)}); err != nil || ps.Uploaded {
			t.Fatalf("%d bytes again: uploaded %v, err %v", n, ps.Uploaded, err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		rc, err := r.OpenObject(ctx, b.Hash)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, body) {
			t.Fatalf("%d bytes: read back %d bytes that differ", n, len(got))
		}
	}
	liar := mailLike(chunkMin+10, 8)
	if _, _, err := r.PutObject(ctx, sized{bytes.NewReader(liar), 2 << 20}); err == nil {
		t.Fatal("a body longer than announced was stored")
	}
}

// A deleted repo.json is never silently recreated over existing files.
func TestInitRefusesFilesWithoutConfig(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	if _, _, err := r.PutObject(ctx, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := sink.Delete(ctx, configKey); err != nil {
		t.Fatal(err)
	}
	_, err := OpenOrInit(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if !errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "repo.json") {
		t.Fatalf("OpenOrInit without repo.json: %v", err)
	}
	if _, err := sink.Stat(ctx, configKey); err == nil {
		t.Fatal("repo.json was recreated")
	}
}
