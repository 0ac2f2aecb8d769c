package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Cache is the local copy of the repository's whole index, in a pebble
// database in its own directory. It is safe for concurrent use; one process
// at a time may open a directory.
//
// Keys:
//
//	"b" + blob id  → location (locationLen bytes, see encodeLocation)
//	"f" + name     → an ingested index file (value: its blob count, uvarint)
//	"p" + pack id  → a pack recorded by Add whose index file is not yet
//	                 ingested (empty value)
//	"q" + pack id + blob id → a blob whose location Add wrote for that pack
//	"m" + name     → metadata: the cache format, the repository id
type Cache struct {
	db     *pebble.DB
	lock   *pebble.Lock // released after db is closed
	dir    string
	repoID string

	// wmu serializes writers from the "is this blob known?" check to the
	// commit, so that the first location seen for a blob stays.
	wmu sync.Mutex

	closeOnce sync.Once
	batch     int // entries per write batch (batchEntries; tests lower it)
}

const (
	prefixBlob    = 'b'
	prefixFile    = 'f'
	prefixPending = 'p'
	prefixMember  = 'q'
	prefixMeta    = 'm'

	// cacheFormat changes whenever the key or value layout does; a cache of
	// another format is refused (and rebuilt by its owner).
	cacheFormat = "y360backup index cache 1"

	defaultBlockCache = 32 << 20
	// memTableSize keeps write buffers small: pebble holds at most
	// MemTableStopWritesThreshold of them.
	memTableSize  = 4 << 20
	dataBlockSize = 16 << 10
	// batchEntries bounds one write batch (about 1.5 MiB of keys and values).
	batchEntries = 16 << 10
)

var (
	keyFormat = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	keyRepo   = []byte{prefixMeta, 'r', 'e', 'p', 'o'}
)

// ErrCacheInvalid marks a cache directory that is corrupt, of another format
// or of another repository. It holds nothing the repository lacks: the fix is
// to delete the directory and ingest every index file again.
var ErrCacheInvalid = errors.New("index cache is unusable")

// Option configures Open.
type Option func(*options)

type options struct {
	repoID string
}

// WithRepoID binds the cache to a repository: a new cache records id, an
// existing one must have recorded the same id, so one directory cannot
// silently serve two repositories.
func WithRepoID(id string) Option { return func(o *options) { o.repoID = id } }

// Open opens the cache in dir, creating it if dir is missing or empty.
func Open(dir string, opts ...Option) (*Cache, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	fresh, err := emptyOrMissing(dir)
	if err != nil {
		return nil, fmt.Errorf("index cache: %w", err)
	}
	if !fresh {
		// A non-empty directory without a database is someone else's:
		// pebble must not create one (or even its LOCK) among their files.
		desc, err := pebble.Peek(dir, vfs.Default)
		if err != nil {
			return nil, openError(dir, err)
		}
		if !desc.Exists {
			return nil, invalid(dir, "the directory holds files but no index cache")
		}
	}
	// Locking before pebble does tells "in use" apart from "corrupt".
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("index cache: %w", err)
	}
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		return nil, fmt.Errorf("index cache %s: cannot lock it (in use by this or another process?): %w", dir, err)
	}
	removeSpools(dir) // of a process that died during Ingest
	po := pebbleOptions(defaultBlockCache)
	po.ErrorIfNotExists = !fresh
	po.Lock = lock
	db, err := pebble.Open(dir, po)
	if err != nil {
		lock.Close()
		return nil, openError(dir, err)
	}
	c := &Cache{db: db, lock: lock, dir: dir, batch: batchEntries}
	err = c.checkMeta(o.repoID)
	if err == nil {
		err = c.dropPending()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func pebbleOptions(blockCache int64) *pebble.Options {
	po := &pebble.Options{
		// Reads go through this fixed-size cache (pread, no mmap), so the
		// resident set does not grow with the database.
		CacheSize:                   blockCache,
		MemTableSize:                memTableSize,
		MemTableStopWritesThreshold: 2,
		// Each open table keeps a reader (footer, properties, file handle).
		MaxOpenFiles:       500,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietLogger{},
	}
	for i := range po.Levels {
		// Blob ids are uniformly random, so a lookup of a new blob (a miss)
		// would otherwise read an index and a data block in every level;
		// 10 bits a key make that a ~1% false positive. Not in L6: pebble's
		// Get never reads L6 filters (most lookups there are hits, and at
		// 10^8 blobs they would outgrow the block cache), so writing them
		// would only cost space.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
		// 16 KiB data blocks (pebble's default is 4 KiB) make the index
		// blocks a quarter as big: at 10^8 blobs they then mostly stay in
		// the block cache, and a lookup reads one block from disk, not two.
		// Measured at 10^8 with the file data out of the page cache: hits
		// 140-175 us instead of 295-370 us.
		po.Levels[i].BlockSize = dataBlockSize
	}
	po.Levels[len(po.Levels)-1].FilterPolicy = pebble.NoFilterPolicy
	po.EnsureDefaults()
	return po
}

// quietLogger drops pebble's informational lines (WAL recovery and the like),
// which mean nothing to an operator, and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)           {}
func (quietLogger) Errorf(format string, a ...any) { log.Printf("index cache: "+format, a...) }
func (quietLogger) Fatalf(format string, a ...any) { log.Fatalf("index cache: "+format, a...) }

func emptyOrMissing(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return len(ents) == 0, err
}

// invalid builds the error for an unusable cache directory.
func invalid(dir, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s: delete %s, it is rebuilt from the repository",
		ErrCacheInvalid, dir, fmt.Sprintf(format, a...), dir)
}

func openError(dir string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("index cache %s: %w", dir, err)
	case errors.Is(err, pebble.ErrDBDoesNotExist):
		return invalid(dir, "the directory holds files but no index cache")
	default:
		return invalid(dir, "cannot open (%v)", err)
	}
}

// checkMeta accepts a cache of this format, binds a new one to the
// repository, and refuses a foreign database or another repository's cache.
func (c *Cache) checkMeta(repoID string) error {
	format, ok, err := c.getRaw(keyFormat)
	if err != nil {
		return err
	}
	b := c.db.NewBatch()
	defer b.Close()
	switch {
	case !ok:
		if nonEmpty, err := c.hasKeys(); err != nil || nonEmpty {
			return cmpErr(err, invalid(c.dir, "a database that is not an index cache"))
		}
		b.Set(keyFormat, []byte(cacheFormat), nil)
	case string(format) != cacheFormat:
		return invalid(c.dir, "format %q, this program uses %q", format, cacheFormat)
	}
	stored, ok, err := c.getRaw(keyRepo)
	if err != nil {
		return err
	}
	c.repoID = string(stored)
	switch {
	case repoID == "" || repoID == c.repoID:
	case !ok:
		b.Set(keyRepo, []byte(repoID), nil)
		c.repoID = repoID
	default:
		return invalid(c.dir, "it belongs to repository %s, not %s", c.repoID, repoID)
	}
	if b.Empty() {
		return nil
	}
	return c.fail("write metadata", b.Commit(pebble.Sync))
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func (c *Cache) hasKeys() (bool, error) {
	it, err := c.db.NewIter(nil)
	if err != nil {
		return false, c.fail("scan", err)
	}
	found := it.First()
	return found, c.fail("scan", errors.Join(it.Error(), it.Close()))
}

// RepoID returns the repository id the cache is bound to ("" if none).
func (c *Cache) RepoID() string { return c.repoID }

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Close releases the directory; every write is already in pebble's log.
// Closing twice is harmless (pebble itself panics on it).
func (c *Cache) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.fail("close", errors.Join(c.db.Close(), c.lock.Close())) })
	return err
}

// fail wraps a pebble error with the cache's directory; corruption says how
// to recover. A nil err stays nil.
func (c *Cache) fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pebble.ErrCorruption):
		return invalid(c.dir, "%s: %v", op, err)
	default:
		return fmt.Errorf("index cache %s: %s: %w", c.dir, op, err)
	}
}

// getRaw returns a copy of key's value.
func (c *Cache) getRaw(key []byte) ([]byte, bool, error) {
	v, closer, err := c.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.fail("read", err)
	}
	v = append([]byte(nil), v...)
	return v, true, c.fail("read", closer.Close())
}

// Lookup returns where blob id is stored, if any index file ingested or any
// pack added so far names it.
func (c *Cache) Lookup(id ID) (Location, bool, error) {
	k := blobKey(id)
	v, closer, err := c.db.Get(k[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return Location{}, false, nil
	}
	if err != nil {
		return Location{}, false, c.fail("lookup "+id.String(), err)
	}
	loc, ok := decodeLocation(v)
	closer.Close()
	if !ok {
		return Location{}, false, invalid(c.dir, "blob %s has a malformed location", id)
	}
	return loc, true, nil
}

// Ingested reports whether the index file name was ingested completely.
func (c *Cache) Ingested(name string) (bool, error) {
	_, ok, err := c.getRaw(fileKey(name))
	return ok, err
}

func blobKey(id ID) [1 + len(ID{})]byte {
	var k [1 + len(ID{})]byte
	k[0] = prefixBlob
	copy(k[1:], id[:])
	return k
}

func fileKey(name string) []byte { return append([]byte{prefixFile}, name...) }

func pendingKey(pack ID) []byte { return append([]byte{prefixPending}, pack[:]...) }

// locationLen is the fixed size of a stored location: pack | type | offset |
// length | rawLength, big-endian. Fixed width keeps decoding trivial and
// lets a damaged value be told by its size.
const locationLen = 32 + 1 + 3*8

func encodeLocation(dst *[locationLen]byte, l Location) {
	copy(dst[:32], l.Pack[:])
	dst[32] = l.Type
	binary.BigEndian.PutUint64(dst[33:], l.Offset)
	binary.BigEndian.PutUint64(dst[41:], l.Length)
	binary.BigEndian.PutUint64(dst[49:], l.RawLength)
}

func decodeLocation(v []byte) (Location, bool) {
	if len(v) != locationLen || !validType(v[32]) {
		return Location{}, false
	}
	var l Location
	copy(l.Pack[:], v[:32])
	l.Type = v[32]
	l.Offset = binary.BigEndian.Uint64(v[33:])
	l.Length = binary.BigEndian.Uint64(v[41:])
	l.RawLength = binary.BigEndian.Uint64(v[49:])
	return l, true
}

// spoolPattern names Ingest's temporary copies inside the cache directory.
const spoolPattern = "ingest-*.spool"

// removeSpools deletes spools left by a process that died during Ingest.
func removeSpools(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
	for _, n := range names {
		os.Remove(n)
	}
}
