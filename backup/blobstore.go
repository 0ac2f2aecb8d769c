package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/y360backup/y360backup/backup/b64lines"
	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sinks"
)

// blobStore packs blobs into pack files and finds them again. Writers add
// blobs to an open pack spooled in a temp file; a full pack is uploaded in
// the background; flush finishes the open pack, waits for uploads and writes
// one index file naming every pack uploaded since the last one. Lookups go
// to the local index cache (on disk, bounded memory), and to the packs this
// process wrote since its last index file.
type blobStore struct {
	r        *Repository
	cache    *index.Cache
	packSize int64

	mu       sync.Mutex
	open     [2]*openPack               // being filled: [0] data and chunk lists, [1] trees (nil = none)
	inOpen   map[pack.ID]bool           // blob IDs in open or uploading packs: dedup before upload
	unindex  []packEntries              // uploaded, not yet in an index file
	unloc    map[pack.ID]index.Location // locations of blobs of unindex packs
	uploadWG sync.WaitGroup
	upErr    error
	runs     int           // backup runs in progress (beginRun)
	slots    chan struct{} // bounds packs uploading at once

	flushMu sync.Mutex // one flush at a time
}

type packEntries struct {
	id      pack.ID
	entries []pack.Entry
}

type openPack struct {
	f  *os.File
	bw *bufio.Writer // f buffered: most blobs are a few KiB, one write each would be a syscall each
	w  *pack.Writer
}

// spoolBuf is the write and read size of spool files: large enough that
// syscalls cost little next to hashing and compressing.
const spoolBuf = 256 << 10

// maxPackUploads bounds packs in flight (each is a spool file, not memory).
const maxPackUploads = 3

func newBlobStore(r *Repository, cache *index.Cache, packSize int64) *blobStore {
	return &blobStore{r: r, cache: cache, packSize: packSize, inOpen: map[pack.ID]bool{},
		unloc: map[pack.ID]index.Location{}, slots: make(chan struct{}, maxPackUploads)}
}

// lookup finds where a blob is stored. A miss in the local cache syncs the
// cache with the repository's index files once (another writer may have
// added packs) before it is final.
func (b *blobStore) lookup(ctx context.Context, id pack.ID) (index.Location, bool, error) {
	b.mu.Lock()
	loc, ok := b.unloc[id]
	b.mu.Unlock()
	if ok {
		return loc, true, nil
	}
	loc, ok, err := b.cache.Lookup(index.ID(id))
	if ok || err != nil {
		return loc, ok, err
	}
	if err := b.r.syncIndex(ctx); err != nil {
		return loc, false, err
	}
	return b.cache.Lookup(index.ID(id))
}

// lookupLocal is lookup without the resync: a dedup check must not cost a
// LIST per new item.
func (b *blobStore) lookupLocal(id pack.ID) bool {
	b.mu.Lock()
	_, ok := b.unloc[id]
	ok = ok || b.inOpen[id]
	b.mu.Unlock()
	if ok {
		return true
	}
	_, ok, err := b.cache.Lookup(index.ID(id))
	return ok && err == nil
}

// add appends a compressed blob unless this process is storing it already.
// The caller asked the index cache before compressing (putBlob); a blob
// another writer indexed in between is stored twice, which is harmless.
func (b *blobStore) add(ctx context.Context, t pack.BlobType, id pack.ID, rawLen int, stored []byte) (bool, error) {
	return b.addFrom(ctx, t, id, rawLen, bytes.NewReader(stored), int64(len(stored)))
}

// addFrom is add for a blob whose n stored bytes are read from r.
func (b *blobStore) addFrom(ctx context.Context, t pack.BlobType, id pack.ID, rawLen int, r io.Reader, n int64) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, done := b.unloc[id]; done || b.inOpen[id] {
		return false, nil
	}
	if b.upErr != nil {
		return false, b.upErr
	}
	// Metadata goes to packs of its own, as in restic and kopia: they stay
	// small, a damaged data pack never takes container state with it, and
	// a later cache of metadata packs holds no mail.
	k := 0
	if t == pack.Tree {
		k = 1
	}
	if b.open[k] == nil {
		f, err := os.CreateTemp(b.r.spoolDir, "y360pack-*")
		if err != nil {
			return false, fmt.Errorf("repository: pack spool in %s: %w", b.r.spoolDir, err)
		}
		bw := bufio.NewWriterSize(f, spoolBuf)
		b.open[k] = &openPack{f: f, bw: bw, w: pack.NewWriter(bw)}
	}
	if err := b.open[k].w.AddFrom(t, id, uint64(rawLen), r, n); err != nil {
		return false, fmt.Errorf("repository: add blob %s to pack: %w", id, err)
	}
	b.inOpen[id] = true
	if b.open[k].w.Size() >= b.packSize {
		b.startUploadLocked(ctx, k)
	}
	return true, nil
}

// startUploadLocked finishes open pack k and uploads it in the background.
// b.mu is held; the slot wait happens outside it so other writers go on.
func (b *blobStore) startUploadLocked(ctx context.Context, k int) {
	op := b.open[k]
	b.open[k] = nil
	if op == nil {
		return
	}
	// The pack holds blobs of many containers and users: it must not die
	// with the context of the one whose blob happened to fill it. A
	// cancelled run still makes its last checkpoint (Backup).
	ctx = context.WithoutCancel(ctx)
	b.uploadWG.Add(1)
	go func() {
		defer b.uploadWG.Done()
		b.slots <- struct{}{}
		defer func() { <-b.slots }()
		err := b.uploadPack(ctx, op)
		b.mu.Lock()
		defer b.mu.Unlock()
		if err != nil && b.upErr == nil {
			b.upErr = err
		}
	}()
}

// uploadPack finishes a pack, stores it under data/ and records its blobs
// as uploaded but not yet indexed.
func (b *blobStore) uploadPack(ctx context.Context, op *openPack) (err error) {
	entries := op.w.Entries()
	defer func() {
		op.f.Close()
		os.Remove(op.f.Name())
		if err != nil {
			// Its blobs are not stored: forget them, so they are added
			// again rather than taken as stored.
			b.mu.Lock()
			for _, e := range entries {
				delete(b.inOpen, e.ID)
			}
			b.mu.Unlock()
		}
	}()
	id, size, err := op.w.Finish()
	if err == nil {
		err = op.bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("repository: finish pack: %w", err)
	}
	if _, err := op.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("repository: rewind pack spool: %w", err)
	}
	err = b.r.sink.Put(ctx, packKey(id), io.LimitReader(op.f, size), size)
	if err != nil && !errors.Is(err, sinks.ErrExist) {
		return fmt.Errorf("repository: store pack %s: %w", id, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unindex = append(b.unindex, packEntries{id: id, entries: entries})
	for _, e := range entries {
		b.unloc[e.ID] = index.Location{Pack: index.ID(id), Type: uint8(e.Type), Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
		delete(b.inOpen, e.ID)
	}
	return nil
}

// beginRun and endRun bracket backup runs. A failed pack upload fails every
// later add and checkpoint (a commit may already name one of its blobs)
// until no run is left: the next run starts from durable state only, so
// the error can be forgotten then.
func (b *blobStore) beginRun() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.runs == 0 {
		b.upErr = nil
	}
	b.runs++
}

func (b *blobStore) endRun() {
	b.mu.Lock()
	b.runs--
	b.mu.Unlock()
}

// flush makes every blob added so far durable and findable: it uploads the
// open pack, waits for all uploads, then writes one index file for the packs
// uploaded since the last flush and records them in the local cache. After
// flush returns nil, anything may reference those blobs.
func (b *blobStore) flush(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	b.startUploadLocked(ctx, 0)
	b.startUploadLocked(ctx, 1)
	b.mu.Unlock()
	b.uploadWG.Wait()
	b.mu.Lock()
	err := b.upErr
	todo := b.unindex
	b.mu.Unlock()
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		return nil
	}
	if err := b.r.storeIndexFile(ctx, todo); err != nil {
		return err
	}
	b.mu.Lock()
	b.unindex = b.unindex[len(todo):]
	for _, p := range todo {
		for _, e := range p.entries {
			delete(b.unloc, e.ID)
		}
	}
	b.mu.Unlock()
	return nil
}

func toIndexEntries(es []pack.Entry) []index.Entry {
	out := make([]index.Entry, len(es))
	for i, e := range es {
		out[i] = index.Entry{Type: uint8(e.Type), ID: index.ID(e.ID), Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
	}
	return out
}

// storeIndexFile stores one index file naming packs (its key is the
// SHA-256 of its bytes), then ingests it into the local cache. The cache
// learns the packs from the index file itself, as any other writer's
// would: a crash in between leaves the file for the next sync to ingest.
func (r *Repository) storeIndexFile(ctx context.Context, packs []packEntries) error {
	name, data, err := r.writeIndexFile(ctx, packs)
	if err != nil {
		return err
	}
	if _, err := r.blobs.cache.Ingest(name, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("repository: local index cache: %w", err)
	}
	return nil
}

// writeIndexFile encodes and stores one index file; it returns its key and
// bytes.
func (r *Repository) writeIndexFile(ctx context.Context, packs []packEntries) (string, []byte, error) {
	var buf bytes.Buffer
	enc := index.NewEncoder(&buf)
	for _, p := range packs {
		if err := enc.AddPack(index.ID(p.id), toIndexEntries(p.entries)); err != nil {
			return "", nil, fmt.Errorf("repository: encode index: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return "", nil, fmt.Errorf("repository: encode index: %w", err)
	}
	name := sha256hex(buf.Bytes())
	err := r.sink.Put(ctx, indexPrefix+name, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil && !errors.Is(err, sinks.ErrExist) {
		return "", nil, fmt.Errorf("repository: store index file %s: %w", name[:12], err)
	}
	return indexPrefix + name, buf.Bytes(), nil
}

// readBlob returns a blob's plaintext. Blobs are at most a chunk (8 MiB) or
// one body below the chunking threshold, so this is bounded.
func (b *blobStore) readBlob(ctx context.Context, id pack.ID) (pack.BlobType, []byte, error) {
	return b.readBlobInto(ctx, id, nil)
}

// readBlobInto is readBlob reusing buf's capacity when it suffices (a
// chunked body is read through one buffer, not one allocation per chunk).
func (b *blobStore) readBlobInto(ctx context.Context, id pack.ID, buf []byte) (pack.BlobType, []byte, error) {
	loc, ok, err := b.lookup(ctx, id)
	if err != nil {
		return 0, nil, fmt.Errorf("blob %s: index: %w", id, err)
	}
	if !ok {
		return 0, nil, fmt.Errorf("blob %s: %w", id, ErrBlobMissing)
	}
	if loc.Length > maxStoredBlob || loc.RawLength > maxStoredBlob {
		return 0, nil, fmt.Errorf("blob %s: index says %d bytes (%d raw): larger than any blob this program writes", id, loc.Length, loc.RawLength)
	}
	key := packKey(pack.ID(loc.Pack))
	rc, err := b.r.sink.GetRange(ctx, key, int64(loc.Offset), int64(loc.Length))
	if err != nil {
		return 0, nil, fmt.Errorf("blob %s in pack %s: %w", id, key, err)
	}
	defer rc.Close()
	d, err := b.r.decoder(rc)
	if err != nil {
		return 0, nil, fmt.Errorf("blob %s in pack %s is corrupt: %w", id, key, err)
	}
	defer b.r.putDecoder(d)
	t := pack.BlobType(loc.Type)
	var plain io.Reader = d
	if t == pack.Data64 {
		plain = b64lines.NewReader(d)
	}
	if uint64(cap(buf)) < loc.RawLength {
		buf = make([]byte, loc.RawLength)
	}
	out := buf[:loc.RawLength]
	if _, err := io.ReadFull(plain, out); err != nil {
		return 0, nil, fmt.Errorf("blob %s in pack %s is corrupt (index says %d bytes): %w", id, key, loc.RawLength, err)
	}
	if n, _ := plain.Read(make([]byte, 1)); n != 0 {
		return 0, nil, fmt.Errorf("blob %s in pack %s is corrupt: longer than the %d bytes the index says", id, key, loc.RawLength)
	}
	// Data and tree blobs are named by their content: check it. A chunk
	// list is named by the whole body, checked when the body is read.
	if t != pack.ChunkList {
		if sum := sha256.Sum256(out); pack.ID(sum) != id {
			return 0, nil, fmt.Errorf("blob %s in pack %s is corrupt (content hashes to %x)", id, key, sum)
		}
	}
	return t, out, nil
}

// maxStoredBlob bounds what readBlob allocates, whatever an index says.
const maxStoredBlob = 64 << 20

// ErrBlobMissing means no index file names the blob.
var ErrBlobMissing = errors.New("not in any index (missing from the repository)")

// ObjectLocation says where the (first) blob of a body is stored: the pack's
// key and the blob's byte range in it. For operators' tools and tests that
// damage a repository on purpose.
func (r *Repository) ObjectLocation(ctx context.Context, hash string) (key string, off, n int64, err error) {
	id, ok := parseHash(hash)
	if !ok {
		return "", 0, 0, fmt.Errorf("repository: invalid object hash %q", hash)
	}
	loc, found, err := r.blobs.lookup(ctx, id)
	if err != nil || !found {
		return "", 0, 0, fmt.Errorf("repository: object %s: not found (%v)", hash, err)
	}
	return packKey(pack.ID(loc.Pack)), int64(loc.Offset), int64(loc.Length), nil
}

// DamageObject flips one byte in the middle of a body's (first) blob and
// hands the pack's new bytes to write, which replaces the pack (a file
// write, mem.Sink.Corrupt). For tests and restore drills that prove
// verify and restore notice damage; a repository never does this itself.
func (r *Repository) DamageObject(ctx context.Context, hash string, write func(key string, data []byte) error) error {
	key, off, n, err := r.ObjectLocation(ctx, hash)
	if err != nil {
		return err
	}
	rc, err := r.sink.Get(ctx, key)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return err
	}
	data[off+n/2] ^= 0x55
	return write(key, data)
}
