package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sinks"
)

// Structure checks of Verify (docs/repository.md "Checking"): every kind of
// stored file is read from the repository and checked against the others,
// never taken from the local cache. Problems name the file and what it
// affects.

// packInfo is what the index files say about one pack.
type packInfo struct {
	size  int64  // the exact size its entries imply
	blobs int    // entries
	file  string // the index file naming it
}

// maxIndexFile bounds what one index file may hold in memory while it is
// checked; this program writes files of at most a few MiB.
const maxIndexFile = 256 << 20

// checkStructure checks repo.json, index files against their names, packs
// against the index, and every snapshot and checkpoint object. It fills rep
// and returns the packs the index names.
func (r *Repository) checkStructure(ctx context.Context, rep *VerifyReport) (map[pack.ID]packInfo, error) {
	r.checkConfig(ctx, rep)
	packs, err := r.checkIndexFiles(ctx, rep)
	if err != nil {
		return nil, err
	}
	if err := r.checkPacks(ctx, packs, rep); err != nil {
		return nil, err
	}
	// The cache learns every index file that is there now, so lookups
	// below see the repository as it is.
	if err := r.syncIndex(ctx); err != nil {
		rep.problem("index: %v", err)
	}
	if err := r.checkSnapshotObjects(ctx, packs, rep); err != nil {
		return nil, err
	}
	return packs, r.checkCheckpoints(ctx, rep)
}

func (rep *VerifyReport) problem(format string, args ...any) {
	rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
}

func (r *Repository) checkConfig(ctx context.Context, rep *VerifyReport) {
	rc, err := r.sink.Get(ctx, configKey)
	if err != nil {
		rep.problem("%s: unreadable: %v (restore it from a copy: its ID and chunker polynomial cannot be recreated)", configKey, err)
		return
	}
	defer rc.Close()
	var cfg RepoConfig
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&cfg); err != nil {
		rep.problem("%s: corrupt: %v", configKey, err)
		return
	}
	if cfg.ID != r.cfg.ID || cfg.Polynomial != r.cfg.Polynomial || cfg.Version != r.cfg.Version {
		rep.problem("%s changed since this process opened it (ID %s, was %s)", configKey, cfg.ID, r.cfg.ID)
	}
}

// checkIndexFiles reads every index file, checks that its name is the
// SHA-256 of its bytes and that it decodes completely, and returns the
// packs named with the size their entries imply.
func (r *Repository) checkIndexFiles(ctx context.Context, rep *VerifyReport) (map[pack.ID]packInfo, error) {
	var keys []string
	err := r.sink.List(ctx, indexPrefix, func(oi sinks.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repository: list index files: %w", err)
	}
	packs := map[pack.ID]packInfo{}
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.IndexFiles++
		r.checkIndexFile(ctx, key, packs, rep)
	}
	return packs, nil
}

func (r *Repository) checkIndexFile(ctx context.Context, key string, packs map[pack.ID]packInfo, rep *VerifyReport) {
	name := strings.TrimPrefix(key, indexPrefix)
	if _, err := hex.DecodeString(name); err != nil || len(name) != 64 {
		rep.problem("%s: not an index file name (a file this program did not write)", key)
		return
	}
	rc, err := r.sink.Get(ctx, key)
	if err != nil {
		rep.problem("%s: unreadable: %v", key, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxIndexFile))
	rc.Close()
	if err != nil {
		rep.problem("%s: unreadable: %v", key, err)
		return
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != name {
		rep.problem("%s: corrupt (its bytes hash to %x, not to its name)", key, sum[:6])
		return
	}
	err = index.Decode(bytes.NewReader(data), func(id index.ID, entries []index.Entry) error {
		info := packInfo{size: packSize(entries), blobs: len(entries), file: key}
		if old, ok := packs[pack.ID(id)]; ok && old.size != info.size {
			rep.problem("%s and %s disagree on pack %s (%d and %d bytes)", old.file, key, id, old.size, info.size)
		}
		packs[pack.ID(id)] = info
		return nil
	})
	if err != nil {
		rep.problem("%s: corrupt: %v", key, err)
	}
}

// packSize is the exact size of a pack holding entries, as its writer lays
// it out: the blobs, the header, the trailer.
func packSize(entries []index.Entry) int64 {
	pe := make([]pack.Entry, len(entries))
	var end uint64
	for i, e := range entries {
		pe[i] = pack.Entry{Type: pack.BlobType(e.Type), ID: pack.ID(e.ID), Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
		end = max(end, e.Offset+e.Length)
	}
	return int64(end) + pack.HeaderSize(pe) + pack.TrailerSize
}

// checkPacks lists data/ and compares it with the index: a pack the index
// names must exist with exactly its size; a pack no index names is left by
// an interrupted run (harmless; prune removes it).
func (r *Repository) checkPacks(ctx context.Context, packs map[pack.ID]packInfo, rep *VerifyReport) error {
	seen := make(map[pack.ID]bool, len(packs))
	err := r.listPacks(ctx, func(key string) {
		rep.problem("%s: not a pack name (a file this program did not write)", key)
	}, func(id pack.ID, size int64) {
		info, ok := packs[id]
		if !ok {
			rep.UnindexedPacks++
			rep.UnindexedBytes += size
			return
		}
		seen[id] = true
		rep.Packs++
		if size != info.size {
			rep.problem("pack %s: %d bytes, %s says %d: truncated or damaged (its %d blobs are unreadable)", packKey(id), size, info.file, info.size, info.blobs)
		}
	})
	if err != nil {
		return err
	}
	for id, info := range packs {
		if !seen[id] {
			rep.problem("pack %s: missing, named by %s (%d blobs lost)", packKey(id), info.file, info.blobs)
		}
	}
	return nil
}

// listPacks lists data/, calling found for every pack and foreign for any
// other key.
func (r *Repository) listPacks(ctx context.Context, foreign func(key string), found func(id pack.ID, size int64)) error {
	err := r.sink.List(ctx, dataPrefix, func(oi sinks.ObjectInfo) error {
		id, err := pack.ParseID(oi.Key[strings.LastIndexByte(oi.Key, '/')+1:])
		if err != nil || oi.Key != packKey(id) {
			foreign(oi.Key)
		} else {
			found(id, oi.Size)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("repository: list packs: %w", err)
	}
	return nil
}

// checkSnapshotObjects decodes every snapshot object and checks that its
// root tree is indexed and that it is not dated in the future (a planted or
// garbage object would otherwise become "the newest snapshot").
func (r *Repository) checkSnapshotObjects(ctx context.Context, packs map[pack.ID]packInfo, rep *VerifyReport) error {
	keys, err := r.snapshotKeys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, key := range keys {
		rep.Snapshots++
		s, err := r.loadSnapshotHeader(ctx, key)
		if err != nil {
			rep.problem("%v", err)
			continue
		}
		if fin, _, ok := snapshotKeyParts(key); !ok || fin.After(now.Add(time.Hour)) {
			rep.problem("snapshot %s: named for %s, in the future: not written by a correct clock or by this program", key, fin.Format(time.RFC3339))
		}
		if id, ok := parseHash(s.Root); !ok {
			rep.problem("snapshot %s: root %q is not a tree ID", key, s.Root)
		} else if _, ok := indexed(r.blobs.cache, packs, id); !ok {
			rep.problem("snapshot %s: root tree %s is in no index file (the snapshot is unreadable)", key, s.Root)
		}
	}
	return nil
}

func (r *Repository) checkCheckpoints(ctx context.Context, rep *VerifyReport) error {
	var keys []string
	err := r.sink.List(ctx, checkpointPrefix, func(oi sinks.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		return fmt.Errorf("repository: list checkpoints: %w", err)
	}
	for _, key := range keys {
		if _, err := r.readCheckpoint(ctx, key); err != nil {
			rep.problem("checkpoint %s: unreadable: %v", key, err)
		}
	}
	return nil
}

// indexed reports whether a blob is in a pack that an index file in the
// repository names now. The local cache only says where the blob was seen:
// a cache entry whose index file is gone does not count.
func indexed(c *index.Cache, packs map[pack.ID]packInfo, id pack.ID) (index.Location, bool) {
	loc, found, err := c.Lookup(index.ID(id))
	if err != nil || !found {
		return loc, false
	}
	_, ok := packs[pack.ID(loc.Pack)]
	return loc, ok
}
