//go:build unix

package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/y360backup/y360backup/sinks"
)

// List calls fn for every key starting with prefix, in lexical order. It reads
// one directory at a time and descends only into directories that can hold a
// matching key, so memory is bounded by the largest directory, not the tree.
func (s *Sink) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: list %q: %w", prefix, err)
	}
	// Start at the deepest directory the prefix names completely. A prefix
	// whose directory part could not occur in a valid key matches nothing.
	dir, _ := path.Split(prefix)
	var segs []string
	if dir != "" {
		segs = strings.Split(strings.TrimSuffix(dir, "/"), "/")
		if sinks.ValidKey(strings.TrimSuffix(dir, "/")) != nil || segs[0] == tmpDir {
			return nil
		}
	}
	w, err := s.walkSegs(segs, "", false)
	if errors.Is(err, sinks.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fs: list %q: %w", prefix, err)
	}
	// listDir takes over the leaf descriptor; close only the ones above it.
	leaf := w.leaf()
	w.fds = w.fds[:len(w.fds)-1]
	w.close()
	if err := s.listDir(ctx, leaf, dir, prefix, fn); err != nil {
		return fmt.Errorf("fs: list %q: %w", prefix, err)
	}
	return nil
}

// dirEntry is a directory entry with the key it sorts by: a directory sorts
// as "name/", exactly where the keys inside it sort, so that a depth-first walk
// yields keys in lexical order ("a-b" < "a/b" < "a0" although "a" < "a-b").
type dirEntry struct {
	name  string
	isDir bool
	sort  string
	size  int64
	mtime time.Time
}

// listDir lists the directory fd (whose keys start with dirKey) and closes fd.
func (s *Sink) listDir(ctx context.Context, fd int, dirKey, prefix string, fn func(sinks.ObjectInfo) error) error {
	d := os.NewFile(uintptr(fd), dirKey)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return fmt.Errorf("read directory %q: %w", dirKey, err)
	}
	ents := make([]dirEntry, 0, len(names))
	for _, name := range names {
		if dirKey == "" && name == tmpDir {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // removed since readdir
		}
		e := dirEntry{name: name, sort: name, size: st.Size, mtime: time.Unix(st.Mtim.Unix())}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.isDir, e.sort = true, name+"/"
			full := dirKey + e.sort
			if !strings.HasPrefix(full, prefix) && !strings.HasPrefix(prefix, full) {
				continue
			}
		case unix.S_IFREG:
			if !strings.HasPrefix(dirKey+name, prefix) {
				continue
			}
		default:
			continue // symlinks, devices, FIFOs: never objects
		}
		ents = append(ents, e)
	}
	names = nil
	slices.SortFunc(ents, func(a, b dirEntry) int { return strings.Compare(a.sort, b.sort) })

	defer d.Close()
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := dirKey + e.name
		if sinks.ValidKey(key) != nil {
			continue // a file put there by hand, not by Put
		}
		if e.isDir {
			sub, err := openDirAt(fd, e.name)
			if err == unix.ENOENT || errors.Is(err, errSymlink) {
				continue // removed or swapped for a symlink since readdir
			}
			if err != nil {
				return fmt.Errorf("open directory %q: %w", key, err)
			}
			if err := s.listDir(ctx, sub, key+"/", prefix, fn); err != nil {
				return err
			}
			continue
		}
		if err := fn(sinks.ObjectInfo{Key: key, Size: e.size, ModTime: e.mtime}); err != nil {
			return err
		}
	}
	return nil
}
