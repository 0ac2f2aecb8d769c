package fs

import "golang.org/x/sys/unix"

// publish moves the temporary file into place without ever replacing an
// existing entry: renameat2(RENAME_NOREPLACE), or link+unlink on filesystems
// that lack it. moved reports whether the temporary name is gone. An existing
// target gives unix.EEXIST.
func publish(tmpfd int, tmpName string, dirfd int, name string) (moved bool, err error) {
	err = retryEINTR(func() error { return unix.Renameat2(tmpfd, tmpName, dirfd, name, unix.RENAME_NOREPLACE) })
	switch err {
	case nil:
		return true, nil
	case unix.EINVAL, unix.ENOSYS, unix.ENOTSUP: // e.g. older NFS, some FUSE filesystems
		return linkPublish(tmpfd, tmpName, dirfd, name)
	}
	return false, err
}
