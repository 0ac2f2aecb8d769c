package backup

import (
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
// spool file (the key is the hash, known only at EOF), then uploads the spool
// unless the object already exists. Memory stays bounded by the encoder window.
func (r *Repository) PutObject(ctx context.Context, rd io.Reader) (sources.Body, PutStats, error) {
	f, err := os.CreateTemp(r.spoolDir, "y360spool-*")
	if err != nil {
		return sources.Body{}, PutStats{}, fmt.Errorf("repository: spool file in %s: %w", r.spoolDir, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()

	h := sha256.New()
	e := r.encoder(f)
	n, err := io.Copy(e, io.TeeReader(rd, h))
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	r.putEncoder(e)
	if err != nil {
		return sources.Body{}, PutStats{}, fmt.Errorf("repository: read body: %w", err)
	}
	body := sources.Body{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}
	if r.HasObject(ctx, body.Hash) {
		return body, PutStats{}, nil
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return body, PutStats{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return body, PutStats{}, err
	}
	err = r.sink.Put(ctx, ObjectKey(body.Hash), io.LimitReader(f, size), size)
	if err != nil && !errors.Is(err, sinks.ErrExist) {
		return body, PutStats{}, fmt.Errorf("repository: store object %s: %w", body.Hash[:12], err)
	}
	r.markKnown(body.Hash)
	if err != nil { // ErrExist: someone else stored it
		return body, PutStats{}, nil
	}
	return body, PutStats{Uploaded: true, Compressed: size}, nil
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
