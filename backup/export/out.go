package export

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// output receives exported files. Paths are slash-separated and relative.
type output interface {
	// create returns a writer for a file of the given size (-1 = unknown).
	create(path string, size int64, mtime time.Time) (io.WriteCloser, error)
	// mkdir makes an (empty) directory, e.g. a Maildir's new/ and tmp/.
	mkdir(path string) error
	close() error
}

// ErrNotEmpty is returned, before anything is written, for an export into
// a directory that already holds files (and no Force).
var ErrNotEmpty = errors.New("the output directory is not empty")

// openOutput picks the output Options.Out names.
func openOutput(opts Options) (output, error) {
	switch {
	case opts.Out == "-":
		if opts.Stream == nil {
			return nil, errors.New("export: --out - needs a stream to write to")
		}
		return newTarOutput(nopCloser{opts.Stream}, false, os.TempDir()), nil
	case strings.HasSuffix(opts.Out, ".tar.zst"):
		f, err := os.OpenFile(opts.Out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		return newTarOutput(f, true, filepath.Dir(opts.Out)), nil
	}
	return newDirOutput(opts.Out, opts.Force)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// dirOutput writes into a directory tree.
type dirOutput struct{ root string }

func newDirOutput(root string, force bool) (*dirOutput, error) {
	if !force {
		ents, err := os.ReadDir(root)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("export: %w", err)
		}
		if len(ents) > 0 {
			return nil, fmt.Errorf("export: %s: %w (it holds %s, ...): choose a new or empty directory, or --force to add to it (existing files are never overwritten)",
				root, ErrNotEmpty, ents[0].Name())
		}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &dirOutput{root: root}, nil
}

func (d *dirOutput) create(p string, size int64, mtime time.Time) (io.WriteCloser, error) {
	full := filepath.Join(d.root, filepath.FromSlash(p))
	if !strings.HasPrefix(full, filepath.Clean(d.root)+string(filepath.Separator)) {
		return nil, fmt.Errorf("export: path %q escapes the output directory", p)
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return &mtimeFile{File: f, mtime: mtime}, nil
}

func (d *dirOutput) mkdir(p string) error {
	return os.MkdirAll(filepath.Join(d.root, filepath.FromSlash(p)), 0o700)
}

func (d *dirOutput) close() error { return nil }

type mtimeFile struct {
	*os.File
	mtime time.Time
}

func (f *mtimeFile) Close() error {
	err := f.File.Close()
	if err == nil && !f.mtime.IsZero() {
		os.Chtimes(f.Name(), f.mtime, f.mtime)
	}
	return err
}

// tarOutput writes a tar stream, zstd-compressed for a .tar.zst file.
// Entries of unknown size are spooled to a temporary file in tmp first (tar
// headers carry the size).
type tarOutput struct {
	mu  sync.Mutex
	f   io.WriteCloser
	zw  *zstd.Encoder // nil: plain tar
	tw  *tar.Writer
	tmp string
}

func newTarOutput(f io.WriteCloser, compress bool, tmp string) *tarOutput {
	t := &tarOutput{f: f, tmp: tmp}
	var w io.Writer = f
	if compress {
		// Only options are validated, and these are fixed: no error.
		t.zw, _ = zstd.NewWriter(f, zstd.WithEncoderConcurrency(1))
		w = t.zw
	}
	t.tw = tar.NewWriter(w)
	return t
}

func (t *tarOutput) create(p string, size int64, mtime time.Time) (io.WriteCloser, error) {
	if size >= 0 {
		t.mu.Lock()
		if err := t.tw.WriteHeader(&tar.Header{Name: p, Mode: 0o600, Size: size, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			t.mu.Unlock()
			return nil, err
		}
		return &tarEntry{t: t}, nil
	}
	f, err := os.CreateTemp(t.tmp, ".y360export-*")
	if err != nil {
		return nil, err
	}
	return &spooledEntry{File: f, t: t, path: p, mtime: mtime}, nil
}

// tarEntry holds the tar lock until closed: entries are written one at a time.
type tarEntry struct{ t *tarOutput }

func (e *tarEntry) Write(p []byte) (int, error) { return e.t.tw.Write(p) }
func (e *tarEntry) Close() error {
	err := e.t.tw.Flush()
	e.t.mu.Unlock()
	return err
}

type spooledEntry struct {
	*os.File
	t     *tarOutput
	path  string
	mtime time.Time
}

func (s *spooledEntry) Close() error {
	defer os.Remove(s.File.Name())
	defer s.File.Close()
	size, err := s.File.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := s.File.Seek(0, io.SeekStart); err != nil {
		return err
	}
	w, err := s.t.create(s.path, size, s.mtime)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(w, s.File, size); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (t *tarOutput) mkdir(p string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tw.WriteHeader(&tar.Header{Name: p + "/", Mode: 0o700, Typeflag: tar.TypeDir, ModTime: time.Now(), Format: tar.FormatPAX})
}

func (t *tarOutput) close() error {
	err := t.tw.Close()
	if t.zw != nil {
		if e := t.zw.Close(); err == nil {
			err = e
		}
	}
	if e := t.f.Close(); err == nil {
		err = e
	}
	return err
}
