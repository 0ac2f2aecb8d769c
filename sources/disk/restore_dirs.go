package disk

import (
	"context"
	"fmt"
	"sync"
)

// Folders. The API creates one level per request and refuses a folder
// whose parent is missing (409 DiskPathDoesntExistsError), so a missing
// folder is created after its parent, recursively. Nothing is created up
// front: an upload link is asked for first, and only its "parent missing"
// answer leads here, so restoring into folders that exist costs no mkdir.

type dirKind int

const (
	dirUnknown dirKind = iota
	dirExists          // found (or seen to hold an upload) by this call
	dirFresh           // created by this call: holds only what it uploaded
)

// dirState is one folder as this call knows it. Its mutex makes workers
// needing the same folder wait for one mkdir instead of racing.
type dirState struct {
	mu   sync.Mutex
	kind dirKind
	err  error // a permanent failure (a file where the folder should be)
}

func (r *restorer) dir(p string) *dirState {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.dirs[p]
	if !ok {
		d = &dirState{}
		r.dirs[p] = d
	}
	return d
}

// fresh reports whether this call created the folder p.
func (r *restorer) fresh(p string) bool {
	d := r.dir(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.kind == dirFresh
}

// noteDir records that p exists (an upload into it succeeded).
func (r *restorer) noteDir(p string) {
	d := r.dir(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kind == dirUnknown {
		d.kind = dirExists
	}
}

// ensureDir makes sure the folder p exists, creating it and any missing
// parents one level at a time. A folder that exists already is fine.
func (r *restorer) ensureDir(ctx context.Context, p string) error {
	if p == diskRoot {
		return nil
	}
	d := r.dir(p)
	d.mu.Lock() // parents are locked after children, never the other way round
	defer d.mu.Unlock()
	if d.kind != dirUnknown || d.err != nil {
		return d.err
	}
	err := r.mkdir(ctx, p)
	if isDiskErr(err, errNameParentMissing) {
		if err := r.ensureDir(ctx, parentDir(p)); err != nil {
			return err
		}
		err = r.mkdir(ctx, p)
	}
	switch {
	case err == nil:
		d.kind = dirFresh
	case isDiskErr(err, errNameDirExists):
		d.kind = dirExists
	case isDiskErr(err, errNameExists):
		d.err = fmt.Errorf("create folder %s: a file of that name is there", p)
		return d.err
	default:
		return fmt.Errorf("create folder %s: %w", p, err)
	}
	return nil
}
