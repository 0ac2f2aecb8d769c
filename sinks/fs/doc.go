// Package fs is a sinks.Sink on a local (or mounted) filesystem.
//
// Layout: the object with key "objects/ab/abcd" is the file ROOT/objects/ab/abcd.
// Directories are created on demand (mode 0700), files are 0600.
//
// A Put streams into a temporary file under ROOT/.tmp, fsyncs it, then moves
// it into place with renameat2(RENAME_NOREPLACE) (or, where the filesystem
// does not support that, link(2) + unlink, which also refuses to replace), and
// finally fsyncs the directories whose entries changed. So a key is either
// absent or complete, even after a crash or power loss, and an existing key is
// never replaced. Temporary files left by a crash are removed by Open once
// they are older than an hour (a younger one may belong to a concurrent
// process writing to the same root).
//
// Keys are checked with sinks.ValidKey, the top-level name ".tmp" is
// reserved, and every path is resolved one directory at a time with
// O_NOFOLLOW relative to the root's file descriptor: a symlink planted inside
// the root is never followed, so no read or write can leave the root. (The
// root itself may be a symlink; it is resolved once by Open.)
//
// Unlike S3, a filesystem cannot hold both "a" and "a/b": Put of one when the
// other exists fails with a clear error. The repository layout never does this.
//
// The package needs the *at system calls and builds on unix systems only.
package fs
