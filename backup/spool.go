package backup

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// spool holds one large body on disk while it is stored (putBig): raw is
// the body as received, z the stored form of the blob being added. Both are
// temp files in the spool directory, removed by close; a killed process
// leaves them for the next start-up's clean-up of y360body-* files.
type spool struct {
	raw, z *os.File
	rw, zw *bufio.Writer // raw and z buffered
}

func newSpool(dir string) (*spool, error) {
	raw, err := os.CreateTemp(dir, "y360body-*")
	if err != nil {
		return nil, fmt.Errorf("repository: body spool in %s: %w", dir, err)
	}
	z, err := os.CreateTemp(dir, "y360body-*.z")
	if err != nil {
		raw.Close()
		os.Remove(raw.Name())
		return nil, fmt.Errorf("repository: body spool in %s: %w", dir, err)
	}
	return &spool{raw: raw, z: z, rw: bufio.NewWriterSize(raw, spoolBuf), zw: bufio.NewWriterSize(z, spoolBuf)}, nil
}

// rewind empties z for the next blob.
func (s *spool) rewind() error {
	if err := s.z.Truncate(0); err != nil {
		return fmt.Errorf("repository: body spool: %w", err)
	}
	if _, err := s.z.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("repository: body spool: %w", err)
	}
	s.zw.Reset(s.z)
	return nil
}

// reader returns a buffered reader of n bytes of f from the start.
func reader(f *os.File, n int64) io.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(f, 0, n), spoolBuf)
}

func (s *spool) close() {
	for _, f := range []*os.File{s.raw, s.z} {
		f.Close()
		os.Remove(f.Name())
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
