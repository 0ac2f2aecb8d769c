//go:build unix

package fs

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/y360backup/y360backup/sinks"
)

// errSymlink is wrapped when a path inside the root turns out to be a symlink:
// following it could lead outside the root, so it is refused, never followed.
var errSymlink = errors.New("symlink inside the repository root, refusing to follow it")

const (
	dirFlags  = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	dirPerm   = 0o700
	filePerm  = 0o600
	tmpDir    = ".tmp" // reserved top-level name holding in-flight Puts
	tmpPrefix = "put-" // name prefix of temporary files in tmpDir
)

// retryEINTR calls f until it stops failing with EINTR. Go installs its signal
// handlers with SA_RESTART, but some filesystems (FUSE, NFS) still return it.
func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// openDirAt opens the directory name inside dirfd without following a symlink.
func openDirAt(dirfd int, name string) (int, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Openat(dirfd, name, dirFlags, 0)
		return err
	})
	if err == unix.ELOOP || err == unix.ENOTDIR && isSymlinkAt(dirfd, name) {
		return -1, fmt.Errorf("%q: %w", name, errSymlink)
	}
	return fd, err
}

// isSymlinkAt reports whether name inside dirfd is a symlink.
func isSymlinkAt(dirfd int, name string) bool {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// walked is the chain of open directories from the root down to the one that
// holds a key's last segment.
type walked struct {
	fds  []int  // fds[0] is the root, the last is the key's parent directory
	made []bool // made[i]: a subdirectory was created inside fds[i]
	base string // the key's last segment
}

// leaf returns the directory holding the key.
func (w *walked) leaf() int { return w.fds[len(w.fds)-1] }

// close closes every directory of the chain.
func (w *walked) close() {
	for _, fd := range w.fds {
		unix.Close(fd)
	}
	w.fds = nil
}

// sync flushes the key's directory and every directory in which a new
// subdirectory was created, deepest first, so the new path survives a crash.
func (w *walked) sync() error {
	for i := len(w.fds) - 1; i >= 0; i-- {
		if i == len(w.fds)-1 || w.made[i] {
			if err := retryEINTR(func() error { return unix.Fsync(w.fds[i]) }); err != nil {
				return fmt.Errorf("fsync directory: %w", err)
			}
		}
	}
	return nil
}

// checkKey validates key for this sink: sinks.ValidKey plus the reserved name.
func checkKey(key string) error {
	if err := sinks.ValidKey(key); err != nil {
		return err
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return fmt.Errorf("fs: key %q: the top-level name %q is reserved", key, tmpDir)
	}
	return nil
}

// openRoot opens the root directory. The root path was resolved by Open, so
// following symlinks here only matters if the operator swaps the root itself.
func (s *Sink) openRoot() (int, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = unix.Open(s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("open root %s: %w", s.root, err)
	}
	return fd, nil
}

// walk opens the directories leading to key's last segment, one at a time
// with O_NOFOLLOW. With create, missing directories are made; without it, a
// missing directory (or a file where a directory should be) means the key
// does not exist and the error wraps sinks.ErrNotExist. key must be valid.
func (s *Sink) walk(key string, create bool) (*walked, error) {
	segs := strings.Split(key, "/")
	return s.walkSegs(segs[:len(segs)-1], segs[len(segs)-1], create)
}

func (s *Sink) walkSegs(dirs []string, base string, create bool) (*walked, error) {
	root, err := s.openRoot()
	if err != nil {
		return nil, err
	}
	w := &walked{fds: []int{root}, made: []bool{false}, base: base}
	for i, seg := range dirs {
		parent := w.leaf()
		fd, err := openDirAt(parent, seg)
		if err == unix.ENOENT && create {
			err = unix.Mkdirat(parent, seg, dirPerm)
			if err == nil {
				w.made[len(w.made)-1] = true
			}
			if err == nil || err == unix.EEXIST { // EEXIST: a concurrent Put made it
				fd, err = openDirAt(parent, seg)
			}
		}
		if err != nil {
			w.close()
			where := strings.Join(dirs[:i+1], "/")
			switch {
			case errors.Is(err, errSymlink):
				return nil, err
			case !create && (err == unix.ENOENT || err == unix.ENOTDIR):
				return nil, fmt.Errorf("%q: %w", where, sinks.ErrNotExist)
			case err == unix.ENOTDIR:
				return nil, fmt.Errorf("%q is an object, so it cannot also be a directory", where)
			default:
				return nil, fmt.Errorf("open directory %q: %w", where, err)
			}
		}
		w.fds = append(w.fds, fd)
		w.made = append(w.made, false)
	}
	return w, nil
}
