//go:build unix && !linux

package fs

// publish moves the temporary file into place with link+unlink, which never
// replaces an existing entry. An existing target gives unix.EEXIST.
func publish(tmpfd int, tmpName string, dirfd int, name string) (moved bool, err error) {
	return linkPublish(tmpfd, tmpName, dirfd, name)
}
