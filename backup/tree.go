package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/y360backup/y360backup/backup/pack"
)

// A snapshot's users are stored as content-addressed trees (docs/repository.md
// "Snapshots: trees"): root → up to 256 buckets (by the first byte of the
// SHA-256 of the user ID) → one tree per user. An unchanged user yields the
// same user tree blob, an unchanged bucket the same bucket blob, so a run
// that changed nothing adds no blob at all, only its small snapshot object.

type rootTree struct {
	V       int          `json:"v"`
	Buckets []bucketLink `json:"buckets"`
}

type bucketLink struct {
	Prefix string `json:"p"`
	Tree   string `json:"tree"`
}

type bucketTree struct {
	Users []userLink `json:"users"`
}

type userLink struct {
	ID      string `json:"id"`
	Email   string `json:"email"`
	Tree    string `json:"tree"`
	Carried bool   `json:"carried,omitempty"`
}

func userBucket(uid string) string { return sha256hex([]byte(uid))[:2] }

// putTree stores v as a tree blob and returns its ID.
func (r *Repository) putTree(ctx context.Context, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	id := pack.ID(sha256sum(b))
	if _, err := r.putBlob(ctx, pack.Tree, id, b); err != nil {
		return "", err
	}
	return id.String(), nil
}

// readTree reads a tree blob into v.
func (r *Repository) readTree(ctx context.Context, id string, v any) error {
	pid, ok := parseHash(id)
	if !ok {
		return fmt.Errorf("tree %q: not a blob ID", id)
	}
	t, b, err := r.blobs.readBlob(ctx, pid)
	if err != nil {
		return fmt.Errorf("tree %s: %w", id, err)
	}
	if t != pack.Tree {
		return fmt.Errorf("tree %s: a %s blob, not a tree", id, t)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("tree %s is corrupt: %w", id, err)
	}
	return nil
}

// writeUserTrees stores snap.Users as trees and returns the root's ID. The
// caller flushes before anything names the root.
func (r *Repository) writeUserTrees(ctx context.Context, users []UserSnapshot) (string, error) {
	buckets := map[string][]userLink{}
	for _, u := range users {
		carried := u.Carried
		u.Carried = false // the user tree must not change with how the run covered it
		u.Sources = withoutRunStats(u.Sources)
		id, err := r.putTree(ctx, u)
		if err != nil {
			return "", fmt.Errorf("repository: store user %s: %w", u.Email, err)
		}
		p := userBucket(u.ID)
		buckets[p] = append(buckets[p], userLink{ID: u.ID, Email: u.Email, Tree: id, Carried: carried})
	}
	root := rootTree{V: FormatVersion}
	for p, links := range buckets {
		sort.Slice(links, func(i, j int) bool { return links[i].ID < links[j].ID })
		id, err := r.putTree(ctx, bucketTree{Users: links})
		if err != nil {
			return "", fmt.Errorf("repository: store user bucket %s: %w", p, err)
		}
		root.Buckets = append(root.Buckets, bucketLink{Prefix: p, Tree: id})
	}
	sort.Slice(root.Buckets, func(i, j int) bool { return root.Buckets[i].Prefix < root.Buckets[j].Prefix })
	return r.putTree(ctx, root)
}

// withoutRunStats returns sources with their per-run Stats cleared: what
// one run did is a per-run fact (the snapshot object's Totals), and keeping
// it in the user tree made the tree of every user differ from the previous
// run's after any run that changed something, so the next run that changed
// nothing still rewrote every user tree and bucket (measured: 528 KB for
// 1,000 users instead of 14 KB). The state (heads, rank, status) stays.
func withoutRunStats(src map[string]*SourceSnapshot) map[string]*SourceSnapshot {
	out := make(map[string]*SourceSnapshot, len(src))
	for name, ss := range src {
		c := *ss
		c.Stats = Stats{}
		out[name] = &c
	}
	return out
}

// readUserTrees loads every user of a snapshot's root, sorted by email.
func (r *Repository) readUserTrees(ctx context.Context, root string) ([]UserSnapshot, error) {
	var rt rootTree
	if err := r.readTree(ctx, root, &rt); err != nil {
		return nil, err
	}
	var out []UserSnapshot
	for _, bl := range rt.Buckets {
		var bt bucketTree
		if err := r.readTree(ctx, bl.Tree, &bt); err != nil {
			return nil, fmt.Errorf("user bucket %s: %w", bl.Prefix, err)
		}
		for _, ul := range bt.Users {
			var u UserSnapshot
			if err := r.readTree(ctx, ul.Tree, &u); err != nil {
				return nil, fmt.Errorf("user %s: %w", ul.Email, err)
			}
			u.Carried = ul.Carried
			if u.Sources == nil {
				u.Sources = map[string]*SourceSnapshot{}
			}
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out, nil
}
