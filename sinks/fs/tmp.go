//go:build unix

package fs

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// linkPublish hard-links the temporary file to its final name (link(2) fails
// with EEXIST rather than replace) and then removes the temporary name.
func linkPublish(tmpfd int, tmpName string, dirfd int, name string) (bool, error) {
	if err := retryEINTR(func() error { return unix.Linkat(tmpfd, tmpName, dirfd, name, 0) }); err != nil {
		return false, err
	}
	// The object is in place; failing to drop the temporary name only leaves
	// a file that a later Open cleans up, so that error is ignored.
	unix.Unlinkat(tmpfd, tmpName, 0)
	return true, nil
}

// cleanTemp makes sure ROOT/.tmp is a real directory and deletes temporary
// files in it last modified before cutoff: leftovers of a crashed Put.
func (s *Sink) cleanTemp(cutoff time.Time) error {
	root, err := s.openRoot()
	if err != nil {
		return err
	}
	defer unix.Close(root)
	fd, err := openDirAt(root, tmpDir)
	if err == unix.ENOENT {
		if err = unix.Mkdirat(root, tmpDir, dirPerm); err == nil || err == unix.EEXIST {
			fd, err = openDirAt(root, tmpDir)
		}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", tmpDir, err)
	}
	d := os.NewFile(uintptr(fd), tmpDir)
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", tmpDir, err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue // removed concurrently, or not ours
		}
		if time.Unix(st.Mtim.Unix()).Before(cutoff) {
			if err := unix.Unlinkat(fd, e.Name(), 0); err != nil && err != unix.ENOENT {
				return fmt.Errorf("remove stale %s/%s: %w", tmpDir, e.Name(), err)
			}
		}
	}
	return nil
}
