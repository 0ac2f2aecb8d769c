package disk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk/api"
	"github.com/y360backup/y360backup/sources/y360"
)

var _ sources.Restorer = (*Source)(nil)

// Errors a restore reports (wrapped, naming the file).
var (
	// ErrConflict: under PolicySkip a different file (or a folder) is
	// already where the item goes; it is left alone and reported.
	ErrConflict = errors.New("left as it is")
	// ErrInsufficientStorage: the Disk answered 507. The container's
	// restore stops there (every later upload would fail the same way).
	ErrInsufficientStorage = errors.New("not enough free space on the Disk (507 Insufficient Storage); restore of this Disk stopped")
)

// RestoreContainer implements sources.Restorer: it uploads items (files of
// the user's "disk" container) to the account of u and returns how many it
// uploaded. See doc.go ("Restore") for destinations, policies and what is
// sent. Per-file failures go to fail and the restore goes on; the error
// return is for the container as a whole (token refused after a re-mint,
// 507, ctx done).
func (s *Source) RestoreContainer(ctx context.Context, u sources.User, tok sources.TokenSource, t sources.RestoreTarget,
	items []sources.RestoreItem, fail func(item string, err error)) (int, error) {
	if err := s.cfg.Validate(); err != nil {
		return 0, err
	}
	who := u.Email
	if who == "" {
		who = u.ID
	}
	policy := t.Policy
	if policy == "" {
		policy = sources.PolicySkip
	}
	switch policy {
	case sources.PolicySkip, sources.PolicyCopy, sources.PolicyReplace:
	default:
		return 0, fmt.Errorf("disk: restore for %s: unknown collision policy %q", who, policy)
	}
	under, err := cleanUnder(t.Under)
	if err != nil {
		return 0, fmt.Errorf("disk: restore for %s: %w", who, err)
	}
	r := &restorer{src: s, cfg: s.cfg, tok: tok, policy: policy, under: under,
		prop: s.cfg.modifiedProperty(), dirs: map[string]*dirState{}, ours: make(map[string]struct{}, len(items))}
	for _, it := range items {
		if d, err := destPath(it.ID, under); err == nil {
			r.ours[d] = struct{}{}
		}
	}
	n, err := r.run(ctx, items, fail)
	if err != nil {
		return n, fmt.Errorf("disk: restore for %s: %w", who, err)
	}
	return n, nil
}

// restorer is one RestoreContainer call. Its maps are shared by the workers.
type restorer struct {
	src    *Source
	cfg    Config
	tok    sources.TokenSource
	policy string
	under  string
	prop   string // Config.ModifiedProperty, "" = off

	ours map[string]struct{} // destinations of this call's items (copies avoid them); read-only

	mu   sync.Mutex
	dirs map[string]*dirState // folders this call created or found
}

// run restores items with up to RestoreWorkers uploads in flight.
func (r *restorer) run(ctx context.Context, items []sources.RestoreItem, fail func(string, error)) (int, error) {
	return sources.RestoreEach(ctx, items, r.cfg.RestoreWorkers, r.restoreOne, func(err error) bool {
		return errors.Is(err, sources.ErrUnauthorized) || errors.Is(err, ErrInsufficientStorage) || errors.Is(err, ErrNoWriteScope)
	}, fail)
}

// restoreOne settles one item under the policy; wrote says it uploaded
// the file (an error may still follow, e.g. setting the modified time).
func (r *restorer) restoreOne(ctx context.Context, it sources.RestoreItem) (wrote bool, err error) {
	dest, err := destPath(it.ID, r.under)
	if err != nil {
		return false, err
	}
	var m Meta
	_ = json.Unmarshal(it.Meta, &m) // missing metadata only costs the modified time
	switch r.policy {
	case sources.PolicyReplace:
		wrote, dest, err = r.replace(ctx, it, m, dest)
	case sources.PolicyCopy:
		wrote, dest, err = r.copy(ctx, it, m, dest)
	default:
		wrote, err = r.skip(ctx, it, m, dest)
	}
	if err != nil && isStatus(err, http.StatusInsufficientStorage) {
		err = fmt.Errorf("%s (%d bytes): %w: %w", dest, it.Size, ErrInsufficientStorage, err)
	} else if err != nil && dest != it.ID {
		err = fmt.Errorf("to %s: %w", dest, err)
	}
	return wrote, err
}

// skip uploads the file unless something is at dest already: the same
// content counts as restored (a rerun, or the file never went away), other
// content is left alone and reported as ErrConflict.
func (r *restorer) skip(ctx context.Context, it sources.RestoreItem, m Meta, dest string) (bool, error) {
	err := r.upload(ctx, it, m, dest, false)
	switch {
	case err == nil:
		return true, r.keepModified(ctx, it, m, dest, nil)
	case isDiskErr(err, errNameDirExists):
		return false, conflict(api.Resource{Type: "dir"}, it)
	case !isDiskErr(err, errNameExists):
		return false, err
	}
	ex, err := r.stat(ctx, dest)
	if err != nil {
		return false, fmt.Errorf("look at the file already there: %w", err)
	}
	if !sameFile(ex, it, m) {
		return false, conflict(ex, it)
	}
	return false, r.keepModified(ctx, it, m, dest, &ex)
}

// replace overwrites what is at dest unless it already has the content.
// A folder at dest is never replaced.
func (r *restorer) replace(ctx context.Context, it sources.RestoreItem, m Meta, dest string) (bool, string, error) {
	if !r.fresh(parentDir(dest)) { // in a folder this call created, nothing can be there
		ex, err := r.stat(ctx, dest)
		switch {
		case err == nil && ex.Type == "dir":
			return false, dest, errors.New("a folder is there; replace only overwrites files")
		case err == nil && sameFile(ex, it, m):
			return false, dest, r.keepModified(ctx, it, m, dest, &ex)
		case err != nil && !y360.IsNotFound(err):
			return false, dest, fmt.Errorf("look at the file already there: %w", err)
		}
	}
	if err := r.upload(ctx, it, m, dest, true); err != nil {
		return false, dest, err
	}
	return true, dest, r.keepModified(ctx, it, m, dest, nil)
}

// copy never overwrites: a taken dest sends the file to the first free
// "name (restored N).ext". A name holding the same content already counts
// as the copy, so a rerun writes nothing twice.
func (r *restorer) copy(ctx context.Context, it sources.RestoreItem, m Meta, dest string) (bool, string, error) {
	name := dest
	for n := 1; ; n++ {
		err := r.upload(ctx, it, m, name, false)
		if err == nil {
			return true, name, r.keepModified(ctx, it, m, name, nil)
		}
		if !isDiskErr(err, errNameExists) && !isDiskErr(err, errNameDirExists) {
			return false, name, err
		}
		if isDiskErr(err, errNameExists) {
			ex, err := r.stat(ctx, name)
			if err != nil {
				return false, name, fmt.Errorf("look at the file already there: %w", err)
			}
			if sameFile(ex, it, m) {
				return false, name, r.keepModified(ctx, it, m, name, &ex)
			}
		}
		for ; n <= maxCopyName; n++ {
			if name = copyName(dest, n); !r.isOurs(name) {
				break
			}
		}
		if n > maxCopyName {
			return false, dest, fmt.Errorf("%s and %d copy names are all taken by other files", dest, maxCopyName)
		}
	}
}

// upload puts it's bytes at dest: link, PUT, and for a 202 the operation
// polled to its end. A stalled body, a dead link or a failed operation is
// retried with a fresh link, a bounded number of times; if an earlier
// attempt landed after all (the link then says the file exists), the file
// is checked and accepted when it has the item's content.
func (r *restorer) upload(ctx context.Context, it sources.RestoreItem, m Meta, dest string, overwrite bool) error {
	for attempt := 1; ; attempt++ {
		l, err := r.uploadLink(ctx, dest, overwrite)
		if err != nil {
			if attempt > 1 && isDiskErr(err, errNameExists) {
				if ex, serr := r.stat(ctx, dest); serr == nil && sameFile(ex, it, m) {
					return nil
				}
			}
			return err
		}
		status, err := r.put(ctx, l.Href, it)
		if err == nil && status == http.StatusAccepted {
			err = r.waitOperation(ctx, l.OperationID)
		}
		if err == nil {
			r.noteDir(parentDir(dest))
			return nil
		}
		retry := errors.Is(err, errStalled) || errors.Is(err, errOpFailed) ||
			isStatus(err, http.StatusNotFound) || isStatus(err, http.StatusGone) // the link died
		if !retry || attempt >= maxUploadAttempts || ctx.Err() != nil {
			return fmt.Errorf("upload: %w", err)
		}
	}
}

// keepModified records the original modified time in the custom property
// (the file's own "modified" is the time of the restore) and, after an
// upload, checks the answer's size and sha256 against the item: the PATCH
// answers the resource, so the check costs nothing extra. ex is the file
// found already there (nil after an upload); it is patched only when it
// lacks the time.
func (r *restorer) keepModified(ctx context.Context, it sources.RestoreItem, m Meta, dest string, ex *api.Resource) error {
	orig := m.OriginalModified
	if orig == "" {
		orig = m.Modified
	}
	if r.prop == "" || orig == "" {
		return nil
	}
	if ex != nil && (sameTime(ex.Modified, orig) || ex.CustomProperties[r.prop] == orig) {
		return nil
	}
	res, err := r.patchProps(ctx, dest, map[string]any{r.prop: orig})
	if err != nil {
		return fmt.Errorf("restored, but recording the original modified time failed: %w", err)
	}
	if ex == nil && !sameFile(res, it, m) {
		return fmt.Errorf("restored, but the Disk reports %d bytes, sha256 %s; the backup has %d bytes, sha256 %s",
			res.Size, res.SHA256, it.Size, it.Hash)
	}
	return nil
}

// sameFile reports whether res is a file with the item's content: same
// size and sha256 (or md5 when the server gave no sha256).
func sameFile(res api.Resource, it sources.RestoreItem, m Meta) bool {
	if res.Type != "file" || res.Size != it.Size {
		return false
	}
	if res.SHA256 != "" {
		return strings.EqualFold(res.SHA256, it.Hash)
	}
	return res.MD5 != "" && strings.EqualFold(res.MD5, m.MD5)
}

func sameTime(a, b string) bool {
	if a == b {
		return true
	}
	ta, err1 := time.Parse(time.RFC3339, a)
	tb, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

func conflict(ex api.Resource, it sources.RestoreItem) error {
	if ex.Type == "dir" {
		return fmt.Errorf("a folder of that name is there, %w; use --policy copy to restore the file beside it", ErrConflict)
	}
	return fmt.Errorf("exists with other content (there: %d bytes, sha256 %.12s…; backup: %d bytes, sha256 %.12s…), %w; use --policy replace or copy",
		ex.Size, ex.SHA256, it.Size, it.Hash, ErrConflict)
}

func (r *restorer) isOurs(p string) bool {
	_, ok := r.ours[p]
	return ok
}
