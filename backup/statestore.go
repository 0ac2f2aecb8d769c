package backup

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/y360backup/y360backup/sources"
)

// The state store keeps the live state of every container this host backs
// up in a local pebble database (cache_dir/<repo>/state), so an open
// container costs memory for its uncommitted changes only, never for its
// size, and a commit writes what changed, not the whole container. It is a
// cache of the repository: a container's rows are used only when its stored
// head equals the head the run starts from; otherwise they are rebuilt from
// the segment chain, in bounded batches.
//
// Keys: 'h' + sid → header (JSON); 'i' + sid + natKey(id) + 0 + id → item.
// sid is 16 bytes of SHA-256 over repository, user, source and container.
type stateStore struct {
	db   *pebble.DB
	temp string // removed by close when the store is private to the process
}

// stateHeader describes the rows of one container.
type stateHeader struct {
	Head       string          `json:"head"`
	Name       string          `json:"name"`
	Cursor     json.RawMessage `json:"cursor,omitempty"`
	BaseBytes  int64           `json:"base_bytes"`
	DeltaBytes int64           `json:"delta_bytes"`
	Deltas     int             `json:"deltas"`
	Count      int             `json:"count"`
}

type sid [16]byte

// rebuildBatch bounds the memory of a rebuild: rows are committed in
// batches of about this many bytes (the header last).
const rebuildBatch = 1 << 20

func openStateStore(dir, spool string) (*stateStore, error) {
	// Small memtables: pebble allocates them outside the Go heap, and two
	// of them (one flushing) were a tenth of a mail backup's resident set.
	opts := &pebble.Options{CacheSize: 8 << 20, MemTableSize: 2 << 20, MemTableStopWritesThreshold: 2,
		MaxOpenFiles: 200, FormatMajorVersion: pebble.FormatNewest, Logger: quietPebble{}}
	if dir != "" {
		if db, err := pebble.Open(dir, opts); err == nil {
			return &stateStore{db: db}, nil
		}
		// In use by another process (pebble locks its directory) or
		// damaged: a private store costs rebuilds, never correctness.
	}
	tmp, err := os.MkdirTemp(spool, "y360state-*")
	if err != nil {
		return nil, fmt.Errorf("repository: state store in %s: %w", spool, err)
	}
	db, err := pebble.Open(tmp, opts)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("repository: state store in %s: %w", tmp, err)
	}
	return &stateStore{db: db, temp: tmp}, nil
}

func (s *stateStore) close() error {
	err := s.db.Close()
	if s.temp != "" {
		os.RemoveAll(s.temp)
	}
	return err
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, a ...any) {
	panic(fmt.Sprintf("state store: "+format, a...))
}

func (r *Repository) stateID(uid, source, ckey string) sid {
	h := sha256sum([]byte(r.cfg.ID + "\x00" + userKey(uid) + "\x00" + sourceKey(source) + "\x00" + ckey))
	var s sid
	copy(s[:], h[:16])
	return s
}

func headerKey(s sid) []byte { return append([]byte{'h'}, s[:]...) }

func itemPrefix(s sid) []byte { return append([]byte{'i'}, s[:]...) }

// itemKey orders items naturally (runs of digits by value: mail UID 7/10
// after 7/9), so base pages follow arrival order and a folder that grows at
// its end rewrites only its last page. The raw ID after a 0 byte keeps keys
// unique and lets rows be decoded without the value.
func itemKey(s sid, id string) []byte {
	k := itemPrefix(s)
	for i := 0; i < len(id); {
		if d := digitRun(id[i:]); d > 0 {
			num := bytes.TrimLeft([]byte(id[i:i+d]), "0")
			k = append(k, '0', byte(len(num)))
			k = append(k, num...)
			i += d
			continue
		}
		if id[i] == 0 {
			k = append(k, 1, 1) // keep 0 as the separator
		} else {
			k = append(k, id[i])
		}
		i++
	}
	k = append(k, 0)
	return append(k, id...)
}

func encodeItem(it sources.Item) []byte {
	b := binary.AppendUvarint(nil, uint64(len(it.ID)))
	b = append(b, it.ID...)
	b = binary.AppendUvarint(b, uint64(len(it.Hash)))
	b = append(b, it.Hash...)
	b = binary.AppendVarint(b, it.Size)
	return append(b, it.Meta...)
}

func decodeItem(b []byte) (sources.Item, error) {
	var it sources.Item
	field := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	var ok1, ok2 bool
	it.ID, ok1 = field()
	it.Hash, ok2 = field()
	size, k := binary.Varint(b)
	if !ok1 || !ok2 || k <= 0 {
		return it, errors.New("state store: malformed item row")
	}
	it.Size = size
	if meta := b[k:]; len(meta) > 0 {
		it.Meta = append(json.RawMessage(nil), meta...)
	}
	return it, nil
}

// header returns a container's stored header.
func (s *stateStore) header(id sid) (stateHeader, bool, error) { return readHeader(s.db, id) }

func readHeader(r pebble.Reader, id sid) (stateHeader, bool, error) {
	v, closer, err := r.Get(headerKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return stateHeader{}, false, nil
	}
	if err != nil {
		return stateHeader{}, false, err
	}
	defer closer.Close()
	var h stateHeader
	if json.Unmarshal(v, &h) != nil {
		return stateHeader{}, false, nil // unreadable: rebuilt
	}
	return h, true, nil
}

func (s *stateStore) get(id sid, item string) (sources.Item, bool, error) {
	v, closer, err := s.db.Get(itemKey(id, item))
	if errors.Is(err, pebble.ErrNotFound) {
		return sources.Item{}, false, nil
	}
	if err != nil {
		return sources.Item{}, false, err
	}
	defer closer.Close()
	it, err := decodeItem(v)
	return it, err == nil, err
}

// scan calls fn for every item of a container in key order, reading
// through r (the database or an indexed batch over it).
func scanItems(r pebble.Reader, id sid, fn func(sources.Item) error) error {
	p := itemPrefix(id)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		item, err := decodeItem(it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(item); err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func putHeader(b *pebble.Batch, id sid, h stateHeader) error {
	v, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return b.Set(headerKey(id), v, nil)
}

// stateDir is where the repository's state store lives ("" = private).
func (r *Repository) stateDir() string {
	if r.cacheDir == "" {
		return ""
	}
	return filepath.Join(r.cacheDir, r.cfg.ID, "state")
}

// openRows makes the store hold exactly the state at head for a container
// and returns its header: as stored when the head matches, else rebuilt
// from the chain. An unreadable chain is an error naming the segment.
func (r *Repository) openRows(ctx context.Context, id sid, name, head string) (stateHeader, error) {
	h, ok, err := r.state.header(id)
	if err != nil {
		return h, fmt.Errorf("state store: %w", err)
	}
	if ok && h.Head == head {
		return h, nil
	}
	return r.rebuildRows(ctx, id, name, head)
}

// rebuildRows replaces a container's rows with the state at head, replayed
// from the segment chain in bounded batches. The header goes first and comes
// back last, so a crash midway leaves a container that is rebuilt again.
func (r *Repository) rebuildRows(ctx context.Context, id sid, name, head string) (stateHeader, error) {
	db := r.state.db
	b := db.NewBatch()
	b.Delete(headerKey(id), nil)
	b.DeleteRange(itemPrefix(id), prefixEnd(itemPrefix(id)), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return stateHeader{}, fmt.Errorf("state store: %w", err)
	}
	h := stateHeader{Name: name}
	if head != "" {
		chain, err := r.readChain(ctx, head)
		if err != nil {
			return h, err
		}
		if h.Count, err = r.loadPages(ctx, id, chain[len(chain)-1].Pages); err != nil {
			return h, err
		}
		for i := len(chain) - 2; i >= 0; i-- {
			ib := db.NewIndexedBatch()
			for j, rec := range chain[i].Records {
				if err := applyRow(ib, id, rec, &h.Count); err != nil {
					ib.Close()
					return h, fmt.Errorf("segment of %q record %d: %w", name, j, err)
				}
			}
			if err := ib.Commit(pebble.NoSync); err != nil {
				return h, fmt.Errorf("state store: %w", err)
			}
		}
		top := chain[0]
		if top.Container != "" {
			h.Name = top.Container
		}
		h.Head, h.Cursor = head, top.Cursor
		h.BaseBytes, h.DeltaBytes, h.Deltas = top.BaseBytes, top.DeltaBytes, top.Deltas
	}
	b = db.NewBatch()
	if err := putHeader(b, id, h); err != nil {
		return h, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return h, fmt.Errorf("state store: %w", err)
	}
	return h, nil
}

// loadPages writes a base's pages as rows, committing every rebuildBatch.
func (r *Repository) loadPages(ctx context.Context, id sid, pages []string) (int, error) {
	b := r.state.db.NewBatch()
	defer func() { b.Close() }()
	n := 0
	for _, p := range pages {
		err := r.readPage(ctx, p, func(rec record) error {
			it, err := recordItem(rec)
			if err != nil {
				return err
			}
			n++
			return b.Set(itemKey(id, it.ID), encodeItem(it), nil)
		})
		if err != nil {
			return 0, err
		}
		if b.Len() > rebuildBatch {
			if err := b.Commit(pebble.NoSync); err != nil {
				return 0, fmt.Errorf("state store: %w", err)
			}
			b.Close()
			b = r.state.db.NewBatch()
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return 0, fmt.Errorf("state store: %w", err)
	}
	return n, nil
}

// recordItem validates a put record.
func recordItem(rec record) (sources.Item, error) {
	if rec.T != "put" || rec.ID == "" || !validHash(rec.Hash) || rec.Size < 0 {
		return sources.Item{}, fmt.Errorf("bad %q record: id %q, hash %q, size %d", rec.T, rec.ID, rec.Hash, rec.Size)
	}
	return sources.Item{ID: rec.ID, Hash: rec.Hash, Size: rec.Size, Meta: rec.Meta}, nil
}

// applyRow applies one delta record to the rows through an indexed batch.
func applyRow(b *pebble.Batch, id sid, rec record, count *int) error {
	exists := func(item string) (sources.Item, bool, error) {
		v, closer, err := b.Get(itemKey(id, item))
		if errors.Is(err, pebble.ErrNotFound) {
			return sources.Item{}, false, nil
		}
		if err != nil {
			return sources.Item{}, false, err
		}
		defer closer.Close()
		it, err := decodeItem(v)
		return it, err == nil, err
	}
	switch rec.T {
	case "put":
		it, err := recordItem(rec)
		if err != nil {
			return err
		}
		_, ok, err := exists(it.ID)
		if err != nil {
			return err
		}
		if !ok {
			*count++
		}
		return b.Set(itemKey(id, it.ID), encodeItem(it), nil)
	case "meta":
		it, ok, err := exists(rec.ID)
		if err != nil || !ok {
			return err
		}
		it.Meta = rec.Meta
		return b.Set(itemKey(id, it.ID), encodeItem(it), nil)
	case "del":
		_, ok, err := exists(rec.ID)
		if err != nil || !ok {
			return err
		}
		*count--
		return b.Delete(itemKey(id, rec.ID), nil)
	case "reset":
		*count = 0
		return b.DeleteRange(itemPrefix(id), prefixEnd(itemPrefix(id)), nil)
	}
	return fmt.Errorf("unknown record type %q", rec.T)
}
