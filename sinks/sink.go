// Package sinks defines the storage interface the repository is written to: a
// flat, write-once object store. Implementations live in sinks/fs and sinks/s3
// (sinks/mem for tests); sinks/counting decorates any of them with call counts.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotExist is returned (wrapped) by Get, GetRange and Stat for a missing key.
var ErrNotExist = errors.New("object does not exist")

// ErrExist is returned (wrapped) by Put when the key already exists: objects are
// write-once. Callers that write content-addressed data treat it as success.
var ErrExist = errors.New("object already exists")

// ErrRange is returned (wrapped) by GetRange for a byte range that is not
// inside the object: a negative offset or length, or one that ends past the
// object's end. The repository reads blobs out of pack files at offsets it
// recorded, so this means a damaged index or pack, never something to retry.
var ErrRange = errors.New("byte range outside the object")

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Sink is a flat, write-once object store. Keys are slash-separated relative
// paths validated by ValidKey.
//
// Contracts every implementation keeps (sinks/sinktest checks them):
//   - Put is atomic: a reader sees the whole object or nothing, also after a
//     crash mid-Put. Put never replaces an existing key; it returns ErrExist.
//     size is the exact number of bytes r yields, or -1 if unknown.
//   - Get, GetRange and Stat return an error wrapping ErrNotExist for a
//     missing key.
//   - GetRange(key, offset, length) yields exactly the length bytes of the
//     object starting at offset; length 0 yields an empty reader (after
//     checking that the key exists and offset is at most its size). A range
//     with offset < 0, length < 0 or offset+length beyond the object's size is
//     an error wrapping ErrRange that names the key, the range and, when the
//     sink knows it, the object's size. The reader never ends early as if it
//     had succeeded: if fewer than length bytes arrive, Read fails with an
//     error wrapping io.ErrUnexpectedEOF.
//   - List calls fn on the caller's goroutine for every key with the prefix,
//     in lexical order; an error from fn stops the listing and is returned.
//   - Delete of a missing key is not an error.
//   - Methods are safe for concurrent use.
type Sink interface {
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// GetRange returns length bytes of key starting at offset. length 0 returns an empty reader.
	// offset < 0, length < 0, or offset+length beyond the object's end is an error (wrapping
	// ErrRange) naming the key, the range and the object size when known.
	// A missing key wraps ErrNotExist.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	Delete(ctx context.Context, key string) error
	// String names the sink for messages ("fs:/var/lib/y360backup").
	String() string
}

// ValidKey reports why key cannot be used, or nil. A valid key is non-empty
// UTF-8, relative, slash-separated, has no empty, "." or ".." segment, no
// backslash, no control characters, and is at most 1024 bytes (the S3 limit).
// Keys are built by the repository from hashes and escaped names, so a failure
// here is a bug or hostile input, never something to repair silently.
func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("sinks: empty key")
	}
	if len(key) > 1024 {
		return fmt.Errorf("sinks: key %.40q...: longer than 1024 bytes", key)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("sinks: key %q: not valid UTF-8", key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("sinks: key %q: must be relative", key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("sinks: key %q: contains control character or backslash", key)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("sinks: key %q: empty, \".\" or \"..\" path segment", key)
		}
	}
	return nil
}
