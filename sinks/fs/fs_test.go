package fs_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

func open(t *testing.T, dir string) *fs.Sink {
	t.Helper()
	cfg := fs.NewConfig()
	cfg.Path = dir
	s, err := fs.Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinks.Sink { return open(t, filepath.Join(t.TempDir(), "repo")) })
}

func TestOpen(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "a", "b", "repo")
	s := open(t, root)
	fi, err := os.Stat(root)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("root after Open: %v, %v; want a 0700 directory", fi, err)
	}
	if got, want := s.String(), "fs:"+root; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if _, err := fs.Open(fs.Config{}); err == nil {
		t.Error("Open with an empty path succeeded")
	}
	// A root that is a symlink is resolved once and works.
	link := filepath.Join(base, "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	ls := open(t, link)
	if err := ls.Put(context.Background(), "k", strings.NewReader("v"), 1); err != nil {
		t.Fatalf("Put through a symlinked root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "k")); err != nil {
		t.Errorf("object not under the real root: %v", err)
	}
}

func TestReservedTmpAndPermissions(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	s := open(t, root)
	ctx := context.Background()
	for _, k := range []string{".tmp", ".tmp/x"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) succeeded; the name is reserved", k)
		}
	}
	if err := s.Put(ctx, "d/e/f", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{"d": 0o700, "d/e": 0o700, "d/e/f": 0o600} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want mode %v", p, fi.Mode(), err, want)
		}
	}
	if got := listAll(t, s); !slices.Equal(got, []string{"d/e/f"}) {
		t.Errorf("List = %q; .tmp must stay hidden", got)
	}
	if rc, err := s.Get(ctx, "d/e/f"); err != nil {
		t.Fatal(err)
	} else if _, ok := rc.(*os.File); !ok {
		t.Errorf("Get returned %T, want *os.File", rc)
	} else {
		rc.Close()
	}
}

func TestKeyDirectoryConflicts(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "repo"))
	ctx := context.Background()
	if err := s.Put(ctx, "a/b", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "a", strings.NewReader("x"), 1); err == nil || errors.Is(err, sinks.ErrExist) {
		t.Errorf("Put(a) over directory a/ = %v, want a conflict error (not ErrExist)", err)
	}
	if err := s.Put(ctx, "a/b/c", strings.NewReader("x"), 1); err == nil || errors.Is(err, sinks.ErrExist) {
		t.Errorf("Put(a/b/c) below object a/b = %v, want a conflict error", err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete of a directory name = %v, want nil (no such object)", err)
	}
	if _, err := s.Stat(ctx, "a/b"); err != nil {
		t.Errorf("a/b damaged: %v", err)
	}
}

// TestSymlinkEscape plants symlinks inside the root pointing outside it and
// checks that no operation follows them.
func TestSymlinkEscape(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, root)
	if err := os.Symlink(outside, filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "filelink")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "dirlink/new", strings.NewReader("x"), 1); err == nil {
		t.Error("Put through a symlinked directory succeeded")
	}
	if _, err := s.Get(ctx, "dirlink/secret"); err == nil || errors.Is(err, sinks.ErrNotExist) {
		t.Errorf("Get through a symlinked directory = %v, want a symlink error", err)
	}
	if _, err := s.Stat(ctx, "filelink"); err == nil {
		t.Error("Stat of a symlinked file succeeded")
	}
	if _, err := s.Get(ctx, "filelink"); err == nil {
		t.Error("Get of a symlinked file succeeded")
	}
	if err := s.Put(ctx, "filelink", strings.NewReader("x"), 1); !errors.Is(err, sinks.ErrExist) {
		t.Errorf("Put over a symlink = %v, want ErrExist (never replaced, never followed)", err)
	}
	if err := s.Delete(ctx, "dirlink/secret"); err == nil {
		t.Error("Delete through a symlinked directory succeeded")
	}
	if err := s.List(ctx, "dirlink/", func(sinks.ObjectInfo) error { return nil }); err == nil {
		t.Error("List starting in a symlinked directory succeeded")
	}
	if got := listAll(t, s); len(got) != 0 {
		t.Errorf("List shows %q; symlinks are never objects", got)
	}
	// The outside directory is untouched.
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 || ents[0].Name() != "secret" {
		t.Errorf("outside dir changed: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Errorf("outside file changed: %q", b)
	}
}

// TestHostileKeysStayInside checks that refused keys wrote nothing anywhere
// near the root, also not next to it.
func TestHostileKeysStayInside(t *testing.T) {
	base := t.TempDir()
	s := open(t, filepath.Join(base, "repo"))
	for _, k := range sinktest.HostileKeys {
		s.Put(context.Background(), k, strings.NewReader("evil"), 4)
	}
	var found []string
	filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if len(found) != 0 {
		t.Errorf("files written: %q", found)
	}
}

func TestStaleTempCleanup(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	open(t, root)
	tmp := filepath.Join(root, ".tmp")
	old, fresh := filepath.Join(tmp, "put-old"), filepath.Join(tmp, "put-fresh")
	other := filepath.Join(tmp, "not-ours")
	for _, p := range []string{old, fresh, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{old, other} {
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	open(t, root)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temp file survived Open: %v", err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed, want kept: %v", filepath.Base(p), err)
		}
	}
}

// TestCrashMidPut runs a Put in a child process, kills it with SIGKILL while
// the Put is streaming, and checks that the key is not visible and that the
// leftover temporary file is cleaned once stale.
func TestCrashMidPut(t *testing.T) {
	if dir := os.Getenv("FS_TEST_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	root := filepath.Join(t.TempDir(), "repo")
	open(t, root)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidPut$")
	cmd.Env = append(os.Environ(), "FS_TEST_CRASH_CHILD="+root)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child prints a line once half the object is written.
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf)
	if !strings.Contains(string(buf[:n]), "halfway") {
		cmd.Process.Kill()
		t.Fatalf("child said %q", buf[:n])
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	s := open(t, root)
	if _, err := s.Stat(context.Background(), "crash/obj"); !errors.Is(err, sinks.ErrNotExist) {
		t.Errorf("after crash, Stat = %v, want ErrNotExist", err)
	}
	if got := listAll(t, s); len(got) != 0 {
		t.Errorf("after crash, List = %q", got)
	}
	ents, _ := os.ReadDir(filepath.Join(root, ".tmp"))
	if len(ents) != 1 {
		t.Fatalf(".tmp holds %d entries, want the 1 partial file", len(ents))
	}
	partial := filepath.Join(root, ".tmp", ents[0].Name())
	if fi, _ := os.Stat(partial); fi == nil || fi.Size() == 0 {
		t.Errorf("partial temp file is empty; the child did not stream")
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(partial, past, past)
	s = open(t, root)
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("stale partial file survived Open")
	}
	if err := s.Put(context.Background(), "crash/obj", strings.NewReader("ok"), 2); err != nil {
		t.Errorf("Put after crash: %v", err)
	}
}

// crashChild streams an object whose reader announces "halfway" and then blocks
// forever, waiting for the parent's SIGKILL.
func crashChild(root string) {
	cfg := fs.NewConfig()
	cfg.Path = root
	s, err := fs.Open(cfg)
	if err != nil {
		os.Stdout.WriteString("open failed: " + err.Error() + "\n")
		os.Exit(1)
	}
	r := io.MultiReader(sinktest.NewDataReader(1, 4<<20), &announceThenBlock{})
	s.Put(context.Background(), "crash/obj", r, 8<<20)
	os.Stdout.WriteString("Put returned\n")
	os.Exit(1)
}

type announceThenBlock struct{}

func (*announceThenBlock) Read([]byte) (int, error) {
	os.Stdout.WriteString("halfway\n")
	select {}
}

func listAll(t *testing.T, s sinks.Sink) []string {
	t.Helper()
	var out []string
	if err := s.List(context.Background(), "", func(oi sinks.ObjectInfo) error {
		out = append(out, oi.Key)
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return out
}

// TestGetRangeFileShrank: a pack file truncated (damaged) after GetRange
// opened it fails the read instead of ending the range early.
func TestGetRangeFileShrank(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	s := open(t, root)
	ctx := context.Background()
	data := sinktest.Data(3, 4096)
	if err := s.Put(ctx, "packs/p", strings.NewReader(string(data)), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	rc, err := s.GetRange(ctx, "packs/p", 1000, 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := os.Truncate(filepath.Join(root, "packs", "p"), 1500); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "packs/p [1000,+2000)") {
		t.Errorf("reading a range of a file that shrank: %d bytes, %v; want io.ErrUnexpectedEOF naming the range", len(b), err)
	}
}
