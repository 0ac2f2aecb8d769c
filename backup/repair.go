package backup

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sources"
)

// Repair (docs/repository.md "Repair") makes a repository whole again after
// packs were lost or truncated: it rewrites the index files that name them
// without them (so no writer dedups against their blobs any more), then runs
// a backup in which every container that referenced a lost blob, or whose
// segments were lost, starts afresh from the source. Bodies still stored are
// found by hash and not uploaded again; the lost ones are fetched and stored.
//
// Run it while no other backup writes the repository: a writer that already
// had the lost packs in its local index cache would still dedup against
// them until it is restarted with a fresh cache.

// RepairReport says what Repair found and did.
type RepairReport struct {
	LostPacks  []string // keys of packs missing or truncated
	LostBlobs  int
	IndexFiles int      // index files rewritten without the lost packs
	Containers []string // started afresh: "uid source name"
	Adopted    []string // packs no index file named, now indexed
	Unusable   []string // such packs that could not be adopted, and why
	Snapshot   *Snapshot
}

// Repair finds lost packs, rewrites the index without them and runs a backup
// (opts) that re-fetches what they held. With nothing lost it only reports.
func (r *Repository) Repair(ctx context.Context, opts RunOptions) (*RepairReport, error) {
	rep := &RepairReport{}
	var vr VerifyReport
	packs, err := r.checkIndexFiles(ctx, &vr)
	if err != nil {
		return rep, err
	}
	lost, orphans, err := r.lostPacks(ctx, packs)
	if err != nil {
		return rep, err
	}
	if err := r.adoptOrphans(ctx, orphans, rep); err != nil {
		return rep, err
	}
	if len(lost) == 0 {
		return rep, nil
	}
	for id := range lost {
		rep.LostPacks = append(rep.LostPacks, packKey(id))
	}
	sort.Strings(rep.LostPacks)
	blobs, files, err := r.dropLostPacks(ctx, packs, lost)
	rep.LostBlobs, rep.IndexFiles = len(blobs), files
	if err != nil {
		return rep, err
	}
	r.lostBlobs, r.repaired = blobs, nil
	defer func() { r.lostBlobs = nil }()
	rep.Snapshot, err = r.Backup(ctx, opts)
	r.repairMu.Lock()
	rep.Containers = append(rep.Containers, r.repaired...)
	r.repairMu.Unlock()
	sort.Strings(rep.Containers)
	return rep, err
}

func (r *Repository) noteRepaired(what string) {
	r.repairMu.Lock()
	r.repaired = append(r.repaired, what)
	r.repairMu.Unlock()
}

// lostPacks lists data/ and returns the indexed packs that are missing or
// not the size their entries imply, and the packs no index file names
// (with their sizes).
func (r *Repository) lostPacks(ctx context.Context, packs map[pack.ID]packInfo) (lost map[pack.ID]bool, orphans map[pack.ID]int64, err error) {
	sizes := map[pack.ID]int64{}
	orphans = map[pack.ID]int64{}
	err = r.listPacks(ctx, func(string) {}, func(id pack.ID, size int64) {
		if _, ok := packs[id]; ok {
			sizes[id] = size
		} else {
			orphans[id] = size
		}
	})
	if err != nil {
		return nil, nil, err
	}
	lost = map[pack.ID]bool{}
	for id, info := range packs {
		if size, ok := sizes[id]; !ok || size != info.size {
			lost[id] = true
		}
	}
	return lost, orphans, nil
}

// adoptOrphans indexes packs no index file names (a run killed between
// uploading a pack and writing its index file), as restic's repair index
// does: each is read whole, must hash to its name and carry a valid header.
// A pack a running writer is about to index is adopted harmlessly (both
// index files then name it with the same entries).
func (r *Repository) adoptOrphans(ctx context.Context, orphans map[pack.ID]int64, rep *RepairReport) error {
	var adopt []packEntries
	for id, size := range orphans {
		if size > maxAdoptedPack {
			rep.Unusable = append(rep.Unusable, packKey(id)+": larger than any pack this program writes")
			continue
		}
		entries, err := r.readOrphan(ctx, id)
		if err != nil {
			rep.Unusable = append(rep.Unusable, fmt.Sprintf("%s: %v", packKey(id), err))
			continue
		}
		adopt = append(adopt, packEntries{id: id, entries: entries})
		rep.Adopted = append(rep.Adopted, packKey(id))
	}
	sort.Strings(rep.Adopted)
	sort.Strings(rep.Unusable)
	if len(adopt) == 0 {
		return nil
	}
	return r.storeIndexFile(ctx, adopt)
}

// maxAdoptedPack bounds what adoptOrphans reads into memory.
const maxAdoptedPack = 1 << 30

func (r *Repository) readOrphan(ctx context.Context, id pack.ID) ([]pack.Entry, error) {
	rc, err := r.sink.Get(ctx, packKey(id))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxAdoptedPack))
	rc.Close()
	if err != nil {
		return nil, err
	}
	if pack.Hash(b) != id {
		return nil, fmt.Errorf("content does not hash to its name (damaged)")
	}
	return pack.ReadHeader(func(off, n int64) ([]byte, error) { return b[off : off+n], nil }, int64(len(b)))
}

// dropLostPacks writes one index file naming the surviving packs of every
// index file that names a lost pack, then deletes those files, and drops
// the lost packs from the local cache. It returns the lost blobs' IDs. A
// crash in between leaves both the new file and some old ones: harmless, the
// next repair finds the same lost packs and finishes.
func (r *Repository) dropLostPacks(ctx context.Context, packs map[pack.ID]packInfo, lost map[pack.ID]bool) (map[pack.ID]bool, int, error) {
	files := map[string]bool{}
	for id := range lost {
		files[packs[id].file] = true
	}
	blobs := map[pack.ID]bool{}
	byPack := map[index.ID][]index.ID{}
	var keep []packEntries
	for file := range files {
		err := r.readIndexFile(ctx, file, func(id index.ID, entries []index.Entry) error {
			if lost[pack.ID(id)] {
				for _, e := range entries {
					blobs[pack.ID(e.ID)] = true
					byPack[id] = append(byPack[id], e.ID)
				}
				return nil
			}
			pe := packEntries{id: pack.ID(id)}
			for _, e := range entries {
				pe.entries = append(pe.entries, pack.Entry{Type: pack.BlobType(e.Type), ID: pack.ID(e.ID), Offset: e.Offset, Length: e.Length, RawLength: e.RawLength})
			}
			keep = append(keep, pe)
			return nil
		})
		if err != nil {
			return blobs, 0, err
		}
	}
	if len(keep) > 0 {
		if err := r.storeIndexFile(ctx, keep); err != nil {
			return blobs, 0, err
		}
	}
	for file := range files {
		if err := r.sink.Delete(ctx, file); err != nil {
			return blobs, 0, fmt.Errorf("repository: delete index file %s: %w", file, err)
		}
	}
	for id, ids := range byPack {
		if err := r.blobs.cache.DropBlobs(id, ids); err != nil {
			return blobs, 0, err
		}
	}
	return blobs, len(files), nil
}

func (r *Repository) readIndexFile(ctx context.Context, key string, fn func(index.ID, []index.Entry) error) error {
	rc, err := r.sink.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("repository: read index file %s: %w", key, err)
	}
	defer rc.Close()
	if err := index.Decode(io.LimitReader(rc, maxIndexFile), fn); err != nil {
		return fmt.Errorf("repository: index file %s: %w", key, err)
	}
	return nil
}

// needsRepair reports whether an open container references a lost blob (a
// body, or a chunk of one). Only a Repair run asks.
func (r *Repository) needsRepair(ctx context.Context, id sid) (bool, error) {
	found := false
	stop := fmt.Errorf("found")
	err := scanItems(r.state.db, id, func(it sources.Item) error {
		h, ok := parseHash(it.Hash)
		if !ok {
			return nil
		}
		if r.lostBlobs[h] || r.lostChunk(ctx, h) {
			found = true
			return stop
		}
		return nil
	})
	if err == stop {
		err = nil
	}
	return found, err
}

// lostChunk reports whether a chunked body has a lost chunk.
func (r *Repository) lostChunk(ctx context.Context, h pack.ID) bool {
	loc, ok, err := r.blobs.cache.Lookup(index.ID(h))
	if err != nil || !ok {
		return !ok // a body in no index any more is lost
	}
	if pack.BlobType(loc.Type) != pack.ChunkList {
		return false
	}
	_, b, err := r.blobs.readBlob(ctx, h)
	if err != nil {
		return true
	}
	refs, err := parseChunkList(b)
	if err != nil {
		return true
	}
	for _, c := range refs {
		if r.lostBlobs[c.id] {
			return true
		}
	}
	return false
}
