//go:build unix

package fs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/y360backup/y360backup/sinks"
)

// copyBufSize is the buffer size for streaming a Put: large enough that
// syscall overhead does not matter, small enough to be irrelevant in memory.
const copyBufSize = 256 << 10

// Put stores r under key atomically and never replaces an existing key. See
// the package doc for the steps.
func (s *Sink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("fs: put: %w", err)
	}
	if err := s.put(ctx, key, r, size); err != nil {
		return fmt.Errorf("fs: put %s: %w", key, err)
	}
	return nil
}

func (s *Sink) put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Walk first, so a conflicting path (a symlink, an object where a
	// directory is needed) fails before any data is streamed.
	w, err := s.walk(key, true)
	if err != nil {
		return err
	}
	defer w.close()

	tmpfd, err := openDirAt(w.fds[0], tmpDir)
	if err == unix.ENOENT { // removed behind our back: recreate
		if err = unix.Mkdirat(w.fds[0], tmpDir, dirPerm); err == nil || err == unix.EEXIST {
			tmpfd, err = openDirAt(w.fds[0], tmpDir)
		}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", tmpDir, err)
	}
	defer unix.Close(tmpfd)

	f, name, err := createTemp(tmpfd)
	if err != nil {
		return err
	}
	moved := false
	defer func() {
		f.Close()
		if !moved {
			unix.Unlinkat(tmpfd, name, 0)
		}
	}()

	if err := s.fill(ctx, f, r, size); err != nil {
		return err
	}
	if s.fsync {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // last moment at which cancelling changes nothing
		return err
	}
	moved, err = publish(tmpfd, name, w.leaf(), w.base)
	if err == unix.EEXIST {
		if isDirAt(w.leaf(), w.base) {
			return fmt.Errorf("%q is a directory holding other keys, so it cannot also be an object", key)
		}
		return sinks.ErrExist
	}
	if err != nil {
		return fmt.Errorf("move into place: %w", err)
	}
	if s.fsync {
		return w.sync()
	}
	return nil
}

// fill copies r into f, checking ctx between reads and, for a known size,
// that r yields exactly size bytes.
func (s *Sink) fill(ctx context.Context, f *os.File, r io.Reader, size int64) error {
	src := &ctxReader{ctx: ctx, r: r}
	if size >= 0 {
		src.r = io.LimitReader(r, size+1) // one byte more tells a too-long reader
	}
	// struct{io.Writer} hides f's ReadFrom, so our buffer size is used.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, src, make([]byte, copyBufSize))
	if err != nil {
		return fmt.Errorf("write after %d bytes: %w", n, err)
	}
	if size >= 0 && n != size {
		if n > size {
			return fmt.Errorf("reader yielded more than the declared %d bytes", size)
		}
		return fmt.Errorf("reader yielded %d of the declared %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	return nil
}

// createTemp creates a new empty file with a random name inside tmpfd.
func createTemp(tmpfd int) (*os.File, string, error) {
	for range 10 {
		var rnd [12]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, "", err
		}
		name := tmpPrefix + hex.EncodeToString(rnd[:])
		var fd int
		err := retryEINTR(func() (err error) {
			fd, err = unix.Openat(tmpfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, filePerm)
			return err
		})
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("create temporary file: %w", err)
		}
		return os.NewFile(uintptr(fd), name), name, nil
	}
	return nil, "", fmt.Errorf("create temporary file: too many name collisions")
}

// ctxReader fails the copy as soon as ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
