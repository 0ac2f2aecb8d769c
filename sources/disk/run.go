package disk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk/api"
	"github.com/y360backup/y360backup/sources/y360"
)

// run is one Backup call: one user, one container, one pass (or two) over
// the listing.
type run struct {
	src *Source
	cfg Config
	tok sources.TokenSource
	st  sources.Store
	c   sources.Container
	who string
	cur Cursor

	// listed holds the IDs the current pass listed; deletions use the stable
	// pass's. reported holds IDs already skipped, failed or deferred this run,
	// so a second pass does not report them twice. (Everything else is
	// idempotent: a second pass finds stored files unchanged.)
	listed      map[string]struct{}
	reported    map[string]struct{}
	skippedDirs map[string]bool // tree walk: excluded folders already reported
	locked      []lockedFile    // 423 answers, retried after the listing
}

type lockedFile struct {
	res api.Resource
	err error
}

// maxPasses bounds the listing passes: a second one runs only when the
// first saw the listing shift under it (see pages), so that deletions are
// recorded from a consistent view.
const maxPasses = 2

func (r *run) backup(ctx context.Context) error {
	stable := false
	for pass := 0; pass < maxPasses && !stable; pass++ {
		r.listed = map[string]struct{}{}
		r.cur.Listed = 0
		var err error
		if stable, err = r.list(ctx, r.file); err != nil {
			return fmt.Errorf("disk: user %s: %w", r.who, err)
		}
	}
	if err := r.retryLocked(ctx); err != nil {
		return fmt.Errorf("disk: user %s: %w", r.who, err)
	}
	if stable {
		r.deleteMissing()
	} // else: deletions wait for a run whose listing holds still
	return nil
}

// file handles one listed resource. It returns an error only when the run
// must stop (ctx done, token refused after a re-mint, commit failed).
func (r *run) file(ctx context.Context, res api.Resource) error {
	if res.Type == "dir" {
		return nil
	}
	id := res.Path
	if _, dup := r.listed[id]; dup {
		return nil // pages overlapped, or the listing shifted
	}
	r.listed[id] = struct{}{}
	r.cur.Listed++
	if _, done := r.reported[id]; done {
		return nil
	}
	switch {
	case !r.cfg.selected(id):
		r.reported[id] = struct{}{}
		r.st.Skip(id, "excluded by include/exclude globs")
		return nil
	case r.cfg.MaxFileSize > 0 && res.Size > r.cfg.MaxFileSize:
		r.reported[id] = struct{}{}
		r.st.Skip(id, fmt.Sprintf("size %d bytes exceeds max_file_size %d", res.Size, r.cfg.MaxFileSize))
		return nil
	}
	meta := r.metaOf(res)
	if old, ok := r.c.Get(id); ok && sameContent(old, res) {
		if !bytes.Equal(old.Meta, meta) {
			r.c.SetMeta(id, meta)
		}
		return r.maybeCommit(ctx)
	}
	if err := r.store(ctx, res, meta); err != nil {
		return err
	}
	return r.maybeCommit(ctx)
}

// store records res, downloading it unless its body is already stored.
func (r *run) store(ctx context.Context, res api.Resource, meta json.RawMessage) error {
	if res.SHA256 != "" && r.c.HasBody(ctx, res.SHA256) {
		// Moved, copied, or stored by a run that died before committing.
		r.c.Put(sources.Item{ID: res.Path, Hash: res.SHA256, Size: res.Size, Meta: meta})
		return nil
	}
	body, err := r.fetch(ctx, res)
	if err != nil {
		return r.fileErr(ctx, res, err)
	}
	r.c.Put(sources.Item{ID: res.Path, Hash: body.Hash, Size: body.Size, Meta: meta})
	return nil
}

// fileErr sorts a per-file failure: fatal for the run, deferred (locked),
// vanished, or recorded against the file.
func (r *run) fileErr(ctx context.Context, res api.Resource, err error) error {
	switch {
	case ctx.Err() != nil:
		return err
	case errors.Is(err, sources.ErrUnauthorized):
		return err
	case isLocked(err):
		r.reported[res.Path] = struct{}{}
		r.locked = append(r.locked, lockedFile{res, err})
	case y360.IsNotFound(err):
		// Deleted (or moved) since it was listed: if an older version is
		// in the container it counts as deleted, like any unlisted file.
		delete(r.listed, res.Path)
	default:
		r.reported[res.Path] = struct{}{}
		r.st.Fail(res.Path, err)
	}
	return nil
}

func isLocked(err error) bool {
	var e *y360.APIError
	return errors.As(err, &e) && e.Status == http.StatusLocked
}

// retryLocked gives files that answered 423 LockedRetries more chances,
// LockedWait apart, then records the ones still locked as failed.
func (r *run) retryLocked(ctx context.Context) error {
	for round := 0; round < r.cfg.LockedRetries && len(r.locked) > 0; round++ {
		if err := sleep(ctx, r.cfg.LockedWait); err != nil {
			return err
		}
		pending := r.locked
		r.locked = nil
		for _, lf := range pending {
			if err := r.store(ctx, lf.res, r.metaOf(lf.res)); err != nil {
				return err
			}
			if err := r.maybeCommit(ctx); err != nil {
				return err
			}
		}
	}
	for _, lf := range r.locked {
		r.st.Fail(lf.res.Path, fmt.Errorf("still locked after %d retries: %w", r.cfg.LockedRetries, lf.err))
	}
	r.locked = nil
	return nil
}

// deleteMissing records as deleted every live item the listing no longer
// has. Items excluded by the globs stay live: excluding a folder stops
// backing it up, it does not mean it was deleted.
func (r *run) deleteMissing() {
	var gone []string
	r.c.Range(func(it sources.Item) bool {
		if _, ok := r.listed[it.ID]; !ok && r.cfg.selected(it.ID) {
			gone = append(gone, it.ID)
		}
		return true
	})
	for _, id := range gone {
		r.c.Delete(id)
	}
}

func (r *run) maybeCommit(ctx context.Context) error {
	if !r.c.Due() {
		return nil
	}
	if err := r.c.Commit(ctx, r.cur); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sameContent reports whether the stored item old has the content res
// describes: same size and same sha256 (or, when the server gave no sha256,
// the same md5 as recorded).
func sameContent(old sources.Item, res api.Resource) bool {
	if old.Size != res.Size {
		return false
	}
	if res.SHA256 != "" {
		return old.Hash == res.SHA256
	}
	if res.MD5 == "" {
		return false
	}
	var m Meta
	return json.Unmarshal(old.Meta, &m) == nil && m.MD5 == res.MD5
}

func (r *run) metaOf(res api.Resource) json.RawMessage {
	m := Meta{
		Path: res.Path, Size: res.Size, MD5: res.MD5, SHA256: res.SHA256,
		Modified: res.Modified, Created: res.Created, MimeType: res.MimeType, ResourceID: res.ResourceID,
	}
	if p := r.cfg.modifiedProperty(); p != "" {
		m.OriginalModified, _ = res.CustomProperties[p].(string)
	}
	b, _ := json.Marshal(m) // cannot fail: strings and ints only
	return b
}
