package backup

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/y360backup/y360backup/backup/pack"
)

// VerifyOptions select what Verify reads.
type VerifyOptions struct {
	// Fraction of the snapshot's bodies to re-read and hash (0 or >= 1 =
	// all). The choice is by hash, so a rerun reads the same ones. Trees
	// are always read in full.
	Fraction float64
	// Progress, if set, is called after each body read.
	Progress func(done int)
}

// VerifyReport says what Verify found.
type VerifyReport struct {
	IndexFiles     int
	Packs          int
	UnindexedPacks int   // left by interrupted runs: harmless, prune removes them
	UnindexedBytes int64 //
	Snapshots      int
	Containers     int
	Items          int
	Objects        int   // distinct bodies read
	Bytes          int64 // plaintext bytes read
	Problems       []string
}

// Verify checks the whole repository's structure (checkStructure: repo.json,
// index files, packs, snapshot and checkpoint objects), then replays every
// container of snap from the repository (not the local state cache), checks
// that every body an item names is indexed, and re-reads (a sample of) the
// bodies, checking each SHA-256. Problems name the file, or the user,
// source, container and item, so an admin knows what is affected.
func (r *Repository) Verify(ctx context.Context, snap *Snapshot, opts VerifyOptions) (*VerifyReport, error) {
	rep := &VerifyReport{}
	packs, err := r.checkStructure(ctx, rep)
	if err != nil {
		return rep, err
	}
	checked := map[string]string{} // hash → problem ("" = fine)
	for _, u := range snap.Users {
		for srcName, ss := range u.Sources {
			for _, h := range ss.Containers {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				where := fmt.Sprintf("%s %s %q", u.Email, srcName, h.Name)
				r.verifyContainer(ctx, where, h, packs, checked, opts, rep)
			}
		}
	}
	return rep, nil
}

func (r *Repository) verifyContainer(ctx context.Context, where string, h ContainerHead, packs map[pack.ID]packInfo, checked map[string]string, opts VerifyOptions, rep *VerifyReport) {
	st, err := r.verifiedState(ctx, h, packs)
	if err != nil {
		rep.problem("%s: index unreadable: %v", where, err)
		return
	}
	rep.Containers++
	for id, it := range st.Items {
		rep.Items++
		prob, seen := checked[it.Hash]
		if !seen {
			if prob = r.checkIndexed(ctx, it.Hash, packs); prob == "" && sampled(it.Hash, opts.Fraction) {
				prob = r.checkObject(ctx, it.Hash, it.Size, rep)
				if opts.Progress != nil {
					opts.Progress(rep.Objects)
				}
			}
			checked[it.Hash] = prob
		}
		if prob != "" {
			rep.problem("%s item %s: %s", where, id, prob)
		}
	}
}

// verifiedState replays a container from the repository, after checking
// that every segment and page of its chain is in a pack an index file names
// now (the local cache may still know blobs whose index file is gone).
func (r *Repository) verifiedState(ctx context.Context, h ContainerHead, packs map[pack.ID]packInfo) (*containerState, error) {
	if h.Head == "" {
		return newContainerState(h.Name), nil
	}
	chain, err := r.readChain(ctx, h.Head)
	if err != nil {
		return nil, err
	}
	ids := []string{h.Head}
	for _, doc := range chain {
		if doc.Prev != "" {
			ids = append(ids, doc.Prev)
		}
		ids = append(ids, doc.Pages...)
	}
	for _, s := range ids {
		id, ok := parseHash(s)
		if ok {
			_, ok = indexed(r.blobs.cache, packs, id)
		}
		if !ok {
			return nil, fmt.Errorf("segment or page %s is in no index file (missing from the repository)", s)
		}
	}
	return r.replayChain(ctx, h.Name, h.Head, chain)
}

// sampled picks a fraction of hashes by their value: the same ones every
// time, spread evenly, without remembering anything.
func sampled(hash string, fraction float64) bool {
	if fraction <= 0 || fraction >= 1 {
		return true
	}
	id, ok := parseHash(hash)
	if !ok {
		return true
	}
	return float64(binary.BigEndian.Uint64(id[:8])) < fraction*math.MaxUint64
}

// checkIndexed says what is wrong if a body, or a chunk of it, is in no
// index file.
func (r *Repository) checkIndexed(ctx context.Context, hash string, packs map[pack.ID]packInfo) string {
	id, ok := parseHash(hash)
	if !ok {
		return fmt.Sprintf("invalid object hash %q", hash)
	}
	loc, ok := indexed(r.blobs.cache, packs, id)
	if !ok {
		return fmt.Sprintf("object %s is in no index file (missing from the repository)", hash[:12])
	}
	if pack.BlobType(loc.Type) != pack.ChunkList {
		return ""
	}
	_, b, err := r.blobs.readBlob(ctx, id)
	if err != nil {
		return "chunk list unreadable: " + err.Error()
	}
	refs, err := parseChunkList(b)
	if err != nil {
		return fmt.Sprintf("object %s: %v", hash[:12], err)
	}
	for i, c := range refs {
		if _, ok := indexed(r.blobs.cache, packs, c.id); !ok {
			return fmt.Sprintf("object %s: chunk %d (%s) is in no index file", hash[:12], i, c.id.String()[:12])
		}
	}
	return ""
}

func (r *Repository) checkObject(ctx context.Context, hash string, size int64, rep *VerifyReport) string {
	rep.Objects++
	rc, err := r.OpenObject(ctx, hash)
	if err != nil {
		return "missing or unreadable object: " + err.Error()
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	rep.Bytes += n
	if err != nil {
		return err.Error()
	}
	if n != size {
		return fmt.Sprintf("object %s has %d bytes, index says %d", hash[:12], n, size)
	}
	return ""
}
