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
	Version  int            `json:"version"`
	ID       string         `json:"id"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Status   string         `json:"status"`
	Host     string         `json:"host,omitempty"`
	Users    []UserSnapshot `json:"users"`
	Totals   Stats          `json:"totals"`
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
}

// ContainerHead pins a container at a segment.
type ContainerHead struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Head uint64 `json:"head"`
}

const snapshotPrefix = "snapshots/"

func snapshotKey(s *Snapshot) string {
	return snapshotPrefix + s.Started.UTC().Format("20060102T150405Z") + "-" + s.ID + ".json.zst"
}

func (r *Repository) saveSnapshot(ctx context.Context, s *Snapshot) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	s.Key = snapshotKey(s)
	if _, err := r.putCompressedBytes(ctx, s.Key, b); err != nil {
		return fmt.Errorf("repository: write snapshot %s: %w", s.Key, err)
	}
	return nil
}

// Snapshots lists snapshots, oldest first, reading each. A snapshot that
// cannot be read is reported in the error but does not hide the others.
func (r *Repository) Snapshots(ctx context.Context) ([]*Snapshot, error) {
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
	var out []*Snapshot
	var errs []error
	for _, k := range keys {
		s, err := r.loadSnapshot(ctx, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// latestSnapshot reads only the newest snapshot (nil when there is none);
// a run calls it once, so its cost does not grow with history.
func (r *Repository) latestSnapshot(ctx context.Context) (*Snapshot, error) {
	var last string
	err := r.sink.List(ctx, snapshotPrefix, func(oi sinks.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, ".json.zst") && oi.Key > last {
			last = oi.Key
		}
		return nil
	})
	if err != nil || last == "" {
		return nil, err
	}
	return r.loadSnapshot(ctx, last)
}

func (r *Repository) loadSnapshot(ctx context.Context, key string) (*Snapshot, error) {
	rc, err := r.getCompressed(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("repository: snapshot %s: %w", key, err)
	}
	defer rc.Close()
	var s Snapshot
	if err := json.NewDecoder(io.LimitReader(rc, 1<<30)).Decode(&s); err != nil {
		return nil, fmt.Errorf("repository: snapshot %s is corrupt: %w", key, err)
	}
	s.Key = key
	return &s, nil
}

// FindSnapshot returns the snapshot whose ID (or key) starts with prefix, or
// with prefix "latest" the newest one.
func (r *Repository) FindSnapshot(ctx context.Context, prefix string) (*Snapshot, error) {
	all, err := r.Snapshots(ctx)
	if len(all) == 0 {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("repository: no snapshots yet: run a backup first")
	}
	if prefix == "" || prefix == "latest" {
		return all[len(all)-1], nil
	}
	var found *Snapshot
	for _, s := range all {
		if strings.HasPrefix(s.ID, prefix) || strings.HasPrefix(strings.TrimPrefix(s.Key, snapshotPrefix), prefix) {
			if found != nil {
				return nil, fmt.Errorf("repository: snapshot prefix %q is ambiguous", prefix)
			}
			found = s
		}
	}
	if found == nil {
		return nil, fmt.Errorf("repository: no snapshot %q", prefix)
	}
	return found, nil
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

// LoadContainer replays a user's container up to head (a ContainerHead from a snapshot).
func (r *Repository) LoadContainer(ctx context.Context, uid, source string, h ContainerHead) (*ContainerView, error) {
	prefix := indexPrefix(uid, source)
	chain, err := listChain(ctx, r.sink, prefix, h.Key)
	if err != nil {
		return nil, err
	}
	if st, ok := r.cachedLoad(prefix, h.Key, chain); ok && st.Head == h.Head {
		return viewOf(h.Name, st), nil // the newest snapshot: no segment to read
	}
	st, err := r.loadState(ctx, h.Name, chainUpTo(chain, h.Head))
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

// SnapshotAt returns the newest snapshot that started at or before t.
func (r *Repository) SnapshotAt(ctx context.Context, t time.Time) (*Snapshot, error) {
	all, err := r.Snapshots(ctx)
	var best *Snapshot
	for _, s := range all {
		if !s.Started.After(t) {
			best = s
		}
	}
	if best == nil {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("repository: no snapshot at or before %s", t.Format(time.RFC3339))
	}
	return best, nil
}
