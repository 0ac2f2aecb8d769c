package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sources"
)

// ObjectKey is where the body with this hex SHA-256 lives.
func ObjectKey(hash string) string { return "objects/" + hash[:2] + "/" + hash }

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// PutStats says what one PutObject did.
type PutStats struct {
	Uploaded   bool  // false when an identical object was already stored
	Compressed int64 // bytes written to the sink (0 if not uploaded)
}

// PutObject streams r into the repository: it hashes and compresses it into a
// spool (the key is the hash, known only at EOF), then uploads the spool
// unless the object already exists. Memory stays bounded: the spool keeps at
// most spoolMem bytes in memory and moves larger objects to a temp file.
func (r *Repository) PutObject(ctx context.Context, rd io.Reader) (sources.Body, PutStats, error) {
	body, sp, err := r.spoolObject(rd)
	if err != nil {
		return body, PutStats{}, err
	}
	defer sp.close()
	ps, err := r.uploadSpool(ctx, body, sp)
	return body, ps, err
}

// spoolObject hashes and compresses rd into a spool the caller must close.
func (r *Repository) spoolObject(rd io.Reader) (sources.Body, *spool, error) {
	sp := &spool{dir: r.spoolDir}
	h := sha256.New()
	e := r.encoder(sp)
	n, err := io.Copy(e, io.TeeReader(rd, h))
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	r.putEncoder(e)
	if err == nil {
		err = sp.err
	}
	if err != nil {
		sp.close()
		return sources.Body{}, nil, fmt.Errorf("repository: read body: %w", err)
	}
	return sources.Body{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}, sp, nil
}

// uploadSpool stores a spooled object unless it is already stored.
func (r *Repository) uploadSpool(ctx context.Context, body sources.Body, sp *spool) (PutStats, error) {
	if r.HasObject(ctx, body.Hash) {
		return PutStats{}, nil
	}
	content, size, err := sp.reader()
	if err != nil {
		return PutStats{}, err
	}
	err = r.sink.Put(ctx, ObjectKey(body.Hash), content, size)
	if err != nil && !errors.Is(err, sinks.ErrExist) {
		return PutStats{}, fmt.Errorf("repository: store object %s: %w", body.Hash[:12], err)
	}
	r.markKnown(body.Hash)
	if err != nil { // ErrExist: someone else stored it
		return PutStats{}, nil
	}
	return PutStats{Uploaded: true, Compressed: size}, nil
}

// putObjectAsync spools rd now and uploads it in the background, so the
// source can fetch the next item while this one travels to the sink (a PUT
// to S3 costs tens of milliseconds; an fs put, fsyncs). At most
// uploadSlots uploads are in flight per repository: a caller blocks here
// when all are busy, which bounds memory to uploadSlots spools. done runs
// once the upload ended.
func (r *Repository) putObjectAsync(ctx context.Context, rd io.Reader, done func(PutStats, error)) (sources.Body, error) {
	select {
	case r.uploads <- struct{}{}:
	case <-ctx.Done():
		return sources.Body{}, ctx.Err()
	}
	body, sp, err := r.spoolObject(rd)
	if err != nil {
		<-r.uploads
		return body, err
	}
	go func() {
		defer func() { <-r.uploads }()
		defer sp.close()
		done(r.uploadSpool(ctx, body, sp))
	}()
	return body, nil
}

// spoolMem is how much compressed data a spool keeps in memory before it
// moves to a temp file: most mail fits, so most puts touch no spool file.
const spoolMem = 1 << 20

// spool holds one compressed object until its hash (its key) is known.
type spool struct {
	dir string
	mem bytes.Buffer
	f   *os.File
	n   int64
	err error
}

func (s *spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.f == nil && s.mem.Len()+len(p) > spoolMem {
		f, err := os.CreateTemp(s.dir, "y360spool-*")
		if err != nil {
			s.err = fmt.Errorf("repository: spool file in %s: %w", s.dir, err)
			return 0, s.err
		}
		s.f = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			s.err = err
			return 0, err
		}
		s.mem = bytes.Buffer{}
	}
	var n int
	if s.f != nil {
		n, s.err = s.f.Write(p)
	} else {
		n, _ = s.mem.Write(p)
	}
	s.n += int64(n)
	return n, s.err
}

// reader returns the spooled bytes from the start, and their length.
func (s *spool) reader() (io.Reader, int64, error) {
	if s.f == nil {
		return bytes.NewReader(s.mem.Bytes()), s.n, nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	return io.LimitReader(s.f, s.n), s.n, nil
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

func (r *Repository) markKnown(h string) {
	r.mu.Lock()
	r.known[h] = true
	r.mu.Unlock()
}

// HasObject reports whether the object with this hash is stored. A positive
// answer is cached for the life of the Repository (objects are never removed
// by a backup run); a Stat error counts as absent, so the caller uploads.
func (r *Repository) HasObject(ctx context.Context, h string) bool {
	if !validHash(h) {
		return false
	}
	r.mu.Lock()
	ok := r.known[h]
	r.mu.Unlock()
	if ok {
		return true
	}
	if _, err := r.sink.Stat(ctx, ObjectKey(h)); err != nil {
		return false
	}
	r.markKnown(h)
	return true
}

// OpenObject returns the plaintext of an object. The reader verifies the
// SHA-256 as it is read and fails at EOF if the content does not match.
func (r *Repository) OpenObject(ctx context.Context, h string) (io.ReadCloser, error) {
	if !validHash(h) {
		return nil, fmt.Errorf("repository: invalid object hash %q", h)
	}
	rc, err := r.getCompressed(ctx, ObjectKey(h))
	if err != nil {
		return nil, fmt.Errorf("repository: object %s: %w", h, err)
	}
	return &verifyReader{rc: rc, h: sha256.New(), want: h}, nil
}

type verifyReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("repository: object %s is corrupt (content hashes to %s)", v.want, got)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }
