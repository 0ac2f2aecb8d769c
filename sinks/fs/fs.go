//go:build unix

package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/internal/rangeio"
)

// Sink stores objects as files under a root directory. It is safe for
// concurrent use, also by several processes sharing the root.
type Sink struct {
	root  string // absolute, symlinks resolved
	fsync bool
}

var _ sinks.Sink = (*Sink)(nil)

// staleTempAge is how old a temporary file must be before Open deletes it: an
// hour is far longer than any single Put stays silent, so a younger file may
// still be written by another process sharing the root.
const staleTempAge = time.Hour

// Open opens (creating if missing) the repository root at cfg.Path and removes
// stale temporary files left by a crash.
func Open(cfg Config) (*Sink, error) {
	if cfg.Path == "" {
		return nil, errors.New("fs: repository path is empty")
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("fs: repository path %q: %w", cfg.Path, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("fs: create repository root: %w", err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("fs: resolve repository root %s: %w", abs, err)
	}
	s := &Sink{root: root, fsync: cfg.Fsync}
	if err := s.cleanTemp(time.Now().Add(-staleTempAge)); err != nil {
		return nil, fmt.Errorf("fs: %s: %w", root, err)
	}
	return s, nil
}

// String names the sink for messages.
func (s *Sink) String() string { return "fs:" + s.root }

// Root returns the absolute repository root directory.
func (s *Sink) Root() string { return s.root }

// Get opens the object for reading; the result is an *os.File.
func (s *Sink) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	f, err := s.openObject(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("fs: get %s: %w", key, err)
	}
	return f, nil
}

// GetRange opens the object and returns a reader of length bytes from offset.
// The size comes from the open descriptor (fstat), so the check and the read
// see the same file even if the key is deleted meanwhile.
func (s *Sink) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	what := fmt.Sprintf("fs: get range %s [%d,+%d)", key, offset, length)
	if err := rangeio.Check(offset, length, -1); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	f, err := s.openObject(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = rangeio.Check(offset, length, fi.Size())
	}
	if err != nil || length == 0 {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	// Objects are write-once, but a file damaged under us (truncated) must
	// fail the read rather than end it early: hence Exact.
	sr := io.NewSectionReader(f, offset, length)
	return rangeio.Exact(struct {
		io.Reader
		io.Closer
	}{sr, f}, length, what), nil
}

// Stat returns the object's size and modification time.
func (s *Sink) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	f, err := s.openObject(ctx, key)
	if err != nil {
		return sinks.ObjectInfo{}, fmt.Errorf("fs: stat %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return sinks.ObjectInfo{}, fmt.Errorf("fs: stat %s: %w", key, err)
	}
	return sinks.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// openObject opens key's regular file without following symlinks. Opening
// (rather than fstatat) keeps Stat portable across unix flavours; O_NONBLOCK
// keeps a FIFO planted in the root from blocking us.
func (s *Sink) openObject(ctx context.Context, key string) (*os.File, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := s.walk(key, false)
	if err != nil {
		return nil, err
	}
	defer w.close()
	var fd int
	err = retryEINTR(func() (err error) {
		fd, err = unix.Openat(w.leaf(), w.base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		return err
	})
	switch {
	case err == unix.ENOENT:
		return nil, sinks.ErrNotExist
	case err == unix.ELOOP:
		return nil, fmt.Errorf("%q: %w", key, errSymlink)
	case err != nil:
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return nil, fmt.Errorf("a directory, not an object: %w", sinks.ErrNotExist)
		}
		return nil, errors.New("not a regular file")
	}
	// Reads are blocking from here on: clear O_NONBLOCK (a no-op for files).
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(s.root, filepath.FromSlash(key))), nil
}

// Delete removes the object; a missing key is not an error.
func (s *Sink) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("fs: delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs: delete %s: %w", key, err)
	}
	w, err := s.walk(key, false)
	if errors.Is(err, sinks.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fs: delete %s: %w", key, err)
	}
	defer w.close()
	err = retryEINTR(func() error { return unix.Unlinkat(w.leaf(), w.base, 0) })
	switch {
	case err == unix.ENOENT:
		return nil
	case err == unix.EISDIR || err == unix.EPERM && isDirAt(w.leaf(), w.base):
		return nil // a directory is not an object, so the key is missing
	case err != nil:
		return fmt.Errorf("fs: delete %s: %w", key, err)
	}
	if s.fsync {
		if err := retryEINTR(func() error { return unix.Fsync(w.leaf()) }); err != nil {
			return fmt.Errorf("fs: delete %s: fsync directory: %w", key, err)
		}
	}
	return nil
}

// isDirAt reports whether name inside dirfd is a directory (not following symlinks).
func isDirAt(dirfd int, name string) bool {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}
