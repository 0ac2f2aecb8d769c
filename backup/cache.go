package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/y360backup/y360backup/sources"
)

// The state cache keeps each container's replayed state on local disk, keyed
// by the head segment it reflects. A run then reads from the sink only the
// segments committed since (usually none), instead of replaying up to
// baseEvery segments per container: on S3 that is the difference between
// one LIST per user and source and hundreds of GETs. The cache is advisory:
// anything missing, stale, foreign or corrupt is ignored and the state is
// replayed from the repository, which stays the only source of truth.

// cachedState is one container's state as stored in the cache.
type cachedState struct {
	RepoID    string
	Head      uint64
	SinceBase int
	Name      string
	Cursor    []byte
	Gone      bool
	Items     []sources.Item
}

func (r *Repository) cachePath(prefix, ckey string) string {
	h := sha256.Sum256([]byte(prefix + ckey))
	return filepath.Join(r.cacheDir, r.cfg.ID, hex.EncodeToString(h[:1]), hex.EncodeToString(h[:16])+".gob")
}

// cachedLoad returns the cached state if it reflects a segment of chain.
func (r *Repository) cachedLoad(prefix, ckey string, chain []segment) (*containerState, bool) {
	if r.cacheDir == "" || len(chain) == 0 {
		return nil, false
	}
	b, err := os.ReadFile(r.cachePath(prefix, ckey))
	if err != nil {
		return nil, false
	}
	var c cachedState
	if gob.NewDecoder(bytes.NewReader(b)).Decode(&c) != nil || c.RepoID != r.cfg.ID {
		return nil, false
	}
	found := false
	for _, sg := range chain {
		if sg.Seq == c.Head {
			found = true
		}
	}
	if !found {
		return nil, false
	}
	st := &containerState{Name: c.Name, Items: make(map[string]sources.Item, len(c.Items)),
		Cursor: c.Cursor, Gone: c.Gone, Head: c.Head, SinceBase: c.SinceBase}
	for _, it := range c.Items {
		st.Items[it.ID] = it
	}
	return st, true
}

// cacheStore writes st to the cache (atomically; errors are ignored: the
// cache only saves work).
func (r *Repository) cacheStore(prefix, ckey string, st *containerState) {
	if r.cacheDir == "" {
		return
	}
	c := cachedState{RepoID: r.cfg.ID, Head: st.Head, SinceBase: st.SinceBase, Name: st.Name,
		Cursor: st.Cursor, Gone: st.Gone, Items: make([]sources.Item, 0, len(st.Items))}
	for _, it := range st.Items {
		c.Items = append(c.Items, it)
	}
	var buf bytes.Buffer
	if gob.NewEncoder(&buf).Encode(&c) != nil {
		return
	}
	p := r.cachePath(prefix, ckey)
	if os.MkdirAll(filepath.Dir(p), 0o700) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(buf.Bytes())
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
	}
}

// openState returns a container's state as of the chain's last segment,
// from the cache plus the segments committed after it when possible.
func (r *Repository) openState(ctx context.Context, prefix, ckey, name string, chain []segment) (*containerState, error) {
	if len(chain) == 0 {
		return newContainerState(name), nil
	}
	head := chain[len(chain)-1].Seq
	if st, ok := r.cachedLoad(prefix, ckey, chain); ok {
		var after []segment
		for _, sg := range chain {
			if sg.Seq > st.Head {
				after = append(after, sg)
			}
		}
		deltasOnly := true
		for _, sg := range after {
			if sg.Kind != segDelta {
				deltasOnly = false
			}
		}
		if deltasOnly {
			for _, sg := range after {
				st.SinceBase++
				st.Gone = false
				if err := r.replaySegment(ctx, sg.Key, st); err != nil {
					return nil, err
				}
				st.Head = sg.Seq
			}
			if len(after) > 0 {
				r.cacheStore(prefix, ckey, st)
			}
			return st, nil
		}
	}
	st, err := r.loadState(ctx, name, chainUpTo(chain, head))
	if err != nil {
		return nil, err
	}
	r.cacheStore(prefix, ckey, st)
	return st, nil
}
