package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sources"
)

// Snapshot statuses.
const (
	StatusOK      = "ok"      // every user and item backed up
	StatusPartial = "partial" // some users or items failed; the rest is complete
	StatusFailed  = "failed"  // no user could be backed up
)

// Snapshot is the record of one finished run: restoring "as of" it replays
// each listed container up to its head.
type Snapshot struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Status   string    `json:"status"`
	Host     string    `json:"host,omitempty"`
	// Root is the tree of the snapshot's users (tree.go); Users holds them
	// once loaded (Snapshots, which lists, leaves it nil).
	Root   string         `json:"root"`
	Users  []UserSnapshot `json:"users,omitempty"`
	Totals Stats          `json:"totals"`
	// UsersOK and UsersFailed count users by outcome.
	UsersOK     int    `json:"users_ok"`
	UsersFailed int    `json:"users_failed"`
	Key         string `json:"-"` // where it is stored
}

// UserSnapshot is one user's part of a snapshot.
type UserSnapshot struct {
	ID      string                     `json:"id"`
	Email   string                     `json:"email"`
	Status  string                     `json:"status"`
	Error   string                     `json:"error,omitempty"`
	Sources map[string]*SourceSnapshot `json:"sources"`
	// Carried: this run did not back the user up; the entry is the previous
	// snapshot's, kept so the newest snapshot restores everything.
	Carried bool `json:"carried,omitempty"`

	orgErr string // the run must stop: org-wide credentials were refused
}

// SourceSnapshot is one source's part of a user's snapshot.
type SourceSnapshot struct {
	Status     string          `json:"status"`
	Error      string          `json:"error,omitempty"`
	Containers []ContainerHead `json:"containers"`
	Stats      Stats           `json:"stats"`
	Failures   []string        `json:"failures,omitempty"`
	Skips      []string        `json:"skips,omitempty"`
	Carried    bool            `json:"carried,omitempty"` // from an earlier run (see UserSnapshot.Carried)
	// Epoch and Seq rank this state against checkpoints of crashed runs
	// (docs/repository.md "Checkpoints and resume").
	Epoch uint64 `json:"epoch,omitempty"`
	Seq   uint64 `json:"seq,omitempty"`

	changed bool // this run moved a head
}

// ContainerHead pins a container at a segment (a tree blob ID).
type ContainerHead struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Head string `json:"head"`
}

// snapshotTimeFormat sorts lexically in time order (fixed-width nanoseconds).
const snapshotTimeFormat = "20060102T150405.000000000Z"

// snapshotKey names a snapshot by the time it was written (its Finished
// time): the newest name is the newest, most complete view, also when runs
// of several writers overlap (a run that started earlier but finished later
// carried the other's users in when it wrote).
func snapshotKey(s *Snapshot) string {
	return snapshotPrefix + s.Finished.UTC().Format(snapshotTimeFormat) + "-" + s.ID + ".json.zst"
}

// saveSnapshot stores the users as trees, makes them durable, then writes
// the snapshot object that names their root.
func (r *Repository) saveSnapshot(ctx context.Context, s *Snapshot) error {
	root, err := r.writeUserTrees(ctx, s.Users)
	if err != nil {
		return err
	}
	if err := r.blobs.flush(ctx); err != nil {
		return fmt.Errorf("repository: write snapshot trees: %w", err)
	}
	s.Root = root
	hdr := *s
	hdr.Users = nil
	b, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	s.Key = snapshotKey(s)
	if _, err := r.putCompressedBytes(ctx, s.Key, b); err != nil {
		return fmt.Errorf("repository: write snapshot %s: %w", s.Key, err)
	}
	return nil
}

// Snapshots lists snapshots, oldest first, reading each snapshot object but
// not their users (Users is nil: use FindSnapshot for one snapshot's users).
// A snapshot that cannot be read is reported in the error but does not hide
// the others.
func (r *Repository) Snapshots(ctx context.Context) ([]*Snapshot, error) {
	keys, err := r.snapshotKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Snapshot
	var errs []error
	for _, k := range keys {
		s, err := r.loadSnapshotHeader(ctx, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	sortSnapshots(out)
	return out, errors.Join(errs...)
}

// sortSnapshots orders by time (Finished, what listings print and --at
// compares), then ID: never by the random ID alone, whatever the sink's
// listing order or a key's spelling.
func sortSnapshots(ss []*Snapshot) {
	sort.SliceStable(ss, func(i, j int) bool {
		if c := ss[i].Finished.Compare(ss[j].Finished); c != 0 {
			return c < 0
		}
		return ss[i].ID < ss[j].ID
	})
}

// latestSnapshot reads the newest readable snapshot (nil when there is
// none); a run calls it once, so its cost does not grow with history. An
// unreadable newer one (damaged, or garbage planted under snapshots/) is
// skipped and returned in skipped, so the run warns and resumes from the
// newest good state instead of re-fetching everything.
func (r *Repository) latestSnapshot(ctx context.Context) (s *Snapshot, skipped error) {
	keys, err := r.snapshotKeys(ctx)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	var errs []error
	for i := len(keys) - 1; i >= 0 && len(errs) < maxSkippedSnapshots; i-- {
		s, err := r.loadSnapshot(ctx, keys[i])
		if err == nil {
			return s, errors.Join(errs...)
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// maxSkippedSnapshots bounds how far back latestSnapshot looks.
const maxSkippedSnapshots = 16

// loadSnapshot reads a snapshot and its users.
func (r *Repository) loadSnapshot(ctx context.Context, key string) (*Snapshot, error) {
	s, err := r.loadSnapshotHeader(ctx, key)
	if err != nil {
		return nil, err
	}
	if s.Users, err = r.readUserTrees(ctx, s.Root); err != nil {
		return nil, fmt.Errorf("repository: snapshot %s: %w", key, err)
	}
	return s, nil
}

// loadSnapshotHeader reads only the snapshot object (a few hundred bytes).
func (r *Repository) loadSnapshotHeader(ctx context.Context, key string) (*Snapshot, error) {
	rc, err := r.getCompressed(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("repository: snapshot %s: %w", key, err)
	}
	defer rc.Close()
	var s Snapshot
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&s); err != nil {
		return nil, fmt.Errorf("repository: snapshot %s is corrupt: %w", key, err)
	}
	if s.Version != FormatVersion || s.Root == "" {
		return nil, fmt.Errorf("repository: snapshot %s: version %d without a root tree: not written by this format", key, s.Version)
	}
	s.Key = key
	s.Users = nil
	return &s, nil
}

// snapshotKeys lists snapshot keys, oldest first. Names begin with the start
// time, so choosing one never needs to read the others.
func (r *Repository) snapshotKeys(ctx context.Context) ([]string, error) {
	var keys []string
	err := r.sink.List(ctx, snapshotPrefix, func(oi sinks.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, ".json.zst") {
			keys = append(keys, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repository: list snapshots: %w", err)
	}
	sort.Strings(keys)
	return keys, nil
}

// snapshotKeyParts splits "snapshots/<finished>-<id>.json.zst".
func snapshotKeyParts(key string) (finished time.Time, id string, ok bool) {
	name := strings.TrimSuffix(strings.TrimPrefix(key, snapshotPrefix), ".json.zst")
	ts, id, found := strings.Cut(name, "-")
	if !found {
		return time.Time{}, "", false
	}
	t, err := time.Parse(snapshotTimeFormat, ts)
	return t, id, err == nil
}

// ErrNotFound is wrapped by errors for a snapshot, user, source or container
// that a selection names but the repository does not have.
var ErrNotFound = errors.New("not found")

// FindSnapshot returns the snapshot whose ID (or key) starts with prefix, or
// with prefix "latest" the newest one. It reads only that snapshot.
func (r *Repository) FindSnapshot(ctx context.Context, prefix string) (*Snapshot, error) {
	keys, err := r.snapshotKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("repository: no snapshots yet: run a backup first")
	}
	if prefix == "" || prefix == "latest" {
		return r.loadSnapshot(ctx, keys[len(keys)-1])
	}
	found := ""
	for _, k := range keys {
		_, id, _ := snapshotKeyParts(k)
		if strings.HasPrefix(id, prefix) || strings.HasPrefix(strings.TrimPrefix(k, snapshotPrefix), prefix) {
			if found != "" {
				return nil, fmt.Errorf("repository: snapshot prefix %q is ambiguous", prefix)
			}
			found = k
		}
	}
	if found == "" {
		return nil, fmt.Errorf("repository: no snapshot %q: %w", prefix, ErrNotFound)
	}
	return r.loadSnapshot(ctx, found)
}

// ContainerView is a container's state as of a snapshot.
type ContainerView struct {
	Name   string
	Items  map[string]ItemView
	Cursor json.RawMessage
}

// ItemView is one item as stored.
type ItemView struct {
	ID   string
	Hash string
	Size int64
	Meta json.RawMessage
}

// LoadContainer returns a user's container as of head (a ContainerHead from
// a snapshot): from the local state store when it holds exactly that head
// (the newest state, usually), else by replaying the segment chain.
func (r *Repository) LoadContainer(ctx context.Context, uid, source string, h ContainerHead) (*ContainerView, error) {
	id := r.stateID(uid, source, h.Key)
	// One consistent view of header and rows: a backup in this process
	// may be committing to the same container.
	view := r.state.db.NewSnapshot()
	defer view.Close()
	if hdr, ok, err := readHeader(view, id); err == nil && ok && hdr.Head == h.Head {
		v := &ContainerView{Name: h.Name, Items: make(map[string]ItemView, hdr.Count), Cursor: hdr.Cursor}
		err := scanItems(view, id, func(it sources.Item) error {
			v.Items[it.ID] = ItemView{ID: it.ID, Hash: it.Hash, Size: it.Size, Meta: it.Meta}
			return nil
		})
		if err == nil {
			return v, nil
		}
	}
	st, err := r.loadState(ctx, h.Name, h.Head)
	if err != nil {
		return nil, err
	}
	return viewOf(h.Name, st), nil
}

func viewOf(name string, st *containerState) *ContainerView {
	v := &ContainerView{Name: name, Items: make(map[string]ItemView, len(st.Items)), Cursor: st.Cursor}
	for id, it := range st.Items {
		v.Items[id] = ItemView{ID: id, Hash: it.Hash, Size: it.Size, Meta: it.Meta}
	}
	return v
}

// SnapshotAt returns the newest snapshot that was complete at t (finished at
// or before it), chosen by name: names begin with the finish time.
func (r *Repository) SnapshotAt(ctx context.Context, t time.Time) (*Snapshot, error) {
	keys, err := r.snapshotKeys(ctx)
	if err != nil {
		return nil, err
	}
	best := ""
	for _, k := range keys {
		if finished, _, ok := snapshotKeyParts(k); ok && !finished.After(t) {
			best = k
		}
	}
	if best == "" {
		return nil, fmt.Errorf("repository: no snapshot at or before %s: %w", t.Format(time.RFC3339), ErrNotFound)
	}
	return r.loadSnapshot(ctx, best)
}
