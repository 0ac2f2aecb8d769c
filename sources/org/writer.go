package org

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/y360backup/y360backup/sources"
)

// cursor is what each container commits: constant, so an unchanged
// container commits nothing at all.
type cursor struct {
	Kind string `json:"kind"`
}

// itemMeta is the metadata of an org item: a label for `ls`.
type itemMeta struct {
	Label string `json:"label,omitempty"`
}

// writer records one kind's objects into its container.
type writer struct {
	kind string
	c    sources.Container
	seen map[string]bool
}

func openWriter(ctx context.Context, st sources.Store, kind string) (*writer, error) {
	c, err := st.Open(ctx, kind)
	if err != nil {
		return nil, fmt.Errorf("org: open %s: %w", kind, err)
	}
	return &writer{kind: kind, c: c, seen: map[string]bool{}}, nil
}

// put stores raw under id unless the same bytes are stored already.
func (w *writer) put(ctx context.Context, id, label string, raw []byte) error {
	w.seen[id] = true
	sum := sha256.Sum256(raw)
	hash := hex.EncodeToString(sum[:])
	meta, _ := json.Marshal(itemMeta{Label: label})
	if old, ok := w.c.Get(id); ok && old.Hash == hash {
		if !bytes.Equal(old.Meta, meta) {
			w.c.SetMeta(id, meta)
		}
		return nil
	}
	var body sources.Body
	if w.c.HasBody(ctx, hash) {
		body = sources.Body{Hash: hash, Size: int64(len(raw))}
	} else {
		b, err := w.c.PutBody(ctx, bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("org: store %s %s: %w", w.kind, id, err)
		}
		body = b
	}
	w.c.Put(sources.Item{ID: id, Hash: body.Hash, Size: body.Size, Meta: meta})
	if w.c.Due() {
		return w.c.Commit(ctx, cursor{Kind: w.kind})
	}
	return nil
}

// keep marks id as present although it could not be read this time, so a
// complete listing does not record it deleted.
func (w *writer) keep(id string) { w.seen[id] = true }

// finish records deletions when the listing was complete, commits and closes.
func (w *writer) finish(ctx context.Context, complete bool) error {
	defer w.c.Close()
	if complete {
		var gone []string
		w.c.Range(func(it sources.Item) bool {
			if !w.seen[it.ID] {
				gone = append(gone, it.ID)
			}
			return true
		})
		for _, id := range gone {
			w.c.Delete(id)
		}
	}
	if err := w.c.Commit(ctx, cursor{Kind: w.kind}); err != nil {
		return fmt.Errorf("org: commit %s: %w", w.kind, err)
	}
	return nil
}
