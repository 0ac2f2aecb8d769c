package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2"
)

// item is one blob to record, with the pack that holds it.
type item struct {
	pack ID
	e    Entry
}

// testHookBatch, if set, runs after each intermediate Ingest batch; tests use
// it to stop an ingest part way, as a crash would.
var testHookBatch func() error

// Add records blobs of a pack the process has just uploaded, before any
// index file names it, so that its own later lookups find them.
//
// Until an index file holding the pack is ingested (the writer ingests its
// own file once uploaded), the pack is pending: if the process stops first,
// its index file never exists and the repository does not know the pack, so
// the next Open drops what Add wrote for it rather than let a lookup vouch
// for a blob no index file names.
func (c *Cache) Add(pack ID, entries []Entry) error {
	if pack.IsZero() {
		return errors.New("index cache: Add: zero pack id")
	}
	for i := range entries {
		if !validType(entries[i].Type) {
			return fmt.Errorf("index cache: Add %s: blob %s has invalid type %d", pack, entries[i].ID, entries[i].Type)
		}
	}
	items := make([]item, 0, min(len(entries), c.batch))
	for start := 0; start < len(entries); start += c.batch {
		items = items[:0]
		for _, e := range entries[start:min(start+c.batch, len(entries))] {
			items = append(items, item{pack, e})
		}
		if err := c.write(items, &pack, nil, "", 0); err != nil {
			return err
		}
	}
	return nil
}

// Ingest reads the index file name from r and records every blob in it,
// then marks name ingested. It returns the number of blobs in the file.
//
// Nothing of a corrupt or truncated file enters the cache: zstd verifies its
// checksum only at the end of the stream, so Ingest first copies the file to
// a spool in the cache directory while checking it, then inserts from the
// spool in batches of bounded size. A crash part way leaves name unmarked,
// and ingesting it again is harmless: a blob already known keeps its first
// location (any pack that holds it is valid). Ingest does not skip a name
// already ingested: callers ask Ingested first and so save the download.
func (c *Cache) Ingest(name string, r io.Reader) (blobs int, err error) {
	if name == "" {
		return 0, errors.New("index cache: Ingest: empty name")
	}
	spool, err := os.CreateTemp(c.dir, spoolPattern)
	if err != nil {
		return 0, fmt.Errorf("index cache: ingest %s: %w", name, err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	w := bufio.NewWriterSize(spool, 64<<10)
	err = Decode(io.TeeReader(r, w), func(ID, []Entry) error { return nil })
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		return 0, fmt.Errorf("index cache: ingest %s: %w", name, err)
	}
	// items grows to at most c.batch: allocating the whole batch (1.7 MB,
	// zeroed) for every file was most of the CPU of ingesting many small
	// index files (a repository's history: one or two per run).
	var items []item
	var packs []ID // in items, to confirm if pending
	err = Decode(bufio.NewReaderSize(spool, 64<<10), func(pack ID, entries []Entry) error {
		packs = append(packs, pack)
		for _, e := range entries {
			if len(items) == c.batch {
				if err := c.write(items, nil, packs, "", 0); err != nil {
					return err
				}
				if testHookBatch != nil {
					if err := testHookBatch(); err != nil {
						return err
					}
				}
				items, packs = items[:0], append(packs[:0], pack)
			}
			items = append(items, item{pack, e})
			blobs++
		}
		return nil
	})
	if err == nil {
		err = c.write(items, nil, packs, name, blobs)
	}
	if err != nil {
		return 0, fmt.Errorf("index cache: ingest %s: %w", name, err)
	}
	return blobs, nil
}

// write commits one batch: every item whose blob is not yet known (or is
// known only from a pending pack, when confirm is set), the pending marks
// for pending's pack, the removal of the pending marks of the packs in
// confirm, and the ingested mark of file. Only a batch that ends an ingest
// is synced; it also makes the batches before it durable.
func (c *Cache) write(items []item, pending *ID, confirm []ID, file string, blobs int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.db.NewIndexedBatchWithSize(len(items) * 128)
	defer b.Close()
	if pending != nil {
		b.Set(pendingKey(*pending), nil, nil)
	}
	for _, pack := range confirm {
		if err := c.confirm(b, pack); err != nil {
			return err
		}
	}
	var val [locationLen]byte
	for i := range items {
		it := &items[i]
		k := blobKey(it.e.ID)
		old, found, err := c.batchGet(b, k[:])
		if err != nil {
			return err
		}
		if found {
			// Keep the first location, unless it is of a pending pack and
			// this one comes from an index file: then the blob stays known
			// even if the pending pack is dropped.
			loc, _ := decodeLocation(old)
			if pending != nil || loc.Pack == it.pack {
				continue
			}
			if isPending, err := c.has(b, pendingKey(loc.Pack)); err != nil || !isPending {
				if err != nil {
					return err
				}
				continue
			}
		}
		encodeLocation(&val, Location{Pack: it.pack, Type: it.e.Type, Offset: it.e.Offset, Length: it.e.Length, RawLength: it.e.RawLength})
		b.Set(k[:], val[:], nil)
		if pending != nil {
			b.Set(memberKey(*pending, it.e.ID), nil, nil)
		}
	}
	opts := pebble.NoSync
	if file != "" {
		b.Set(fileKey(file), binary.AppendUvarint(nil, uint64(blobs)), nil)
		opts = pebble.Sync
	}
	return c.fail("write", b.Commit(opts))
}

// confirm removes the pending marks of pack, now named by an index file.
func (c *Cache) confirm(b *pebble.Batch, pack ID) error {
	ok, err := c.has(b, pendingKey(pack))
	if err != nil || !ok {
		return err
	}
	b.Delete(pendingKey(pack), nil)
	return c.scan(memberKey(pack, ID{})[:1+32], func(k, _ []byte) error {
		return b.Delete(k, nil)
	})
}

// batchGet reads key through the batch (which sees the database) and returns
// a copy of its value.
func (c *Cache) batchGet(b *pebble.Batch, key []byte) ([]byte, bool, error) {
	v, closer, err := b.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.fail("read", err)
	}
	v = append([]byte(nil), v...)
	return v, true, c.fail("read", closer.Close())
}

func (c *Cache) has(b *pebble.Batch, key []byte) (bool, error) {
	_, ok, err := c.batchGet(b, key)
	return ok, err
}

func memberKey(pack, blob ID) []byte {
	k := make([]byte, 0, 1+2*len(ID{}))
	k = append(k, prefixMember)
	k = append(k, pack[:]...)
	return append(k, blob[:]...)
}

// scan calls fn for every key with prefix, in order, from the database.
func (c *Cache) scan(prefix []byte, fn func(k, v []byte) error) error {
	it, err := c.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return c.fail("scan", err)
	}
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		err = fn(it.Key(), it.Value())
	}
	return errors.Join(err, c.fail("scan", errors.Join(it.Error(), it.Close())))
}

// prefixEnd returns the first key after every key with prefix (nil: none).
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// dropPending undoes Add for packs whose index file was never ingested: a
// previous process stopped before writing it, so the repository does not
// know them and lookups must not find blobs by them.
func (c *Cache) dropPending() error {
	var packs []ID
	err := c.scan([]byte{prefixPending}, func(k, _ []byte) error {
		if len(k) != 1+len(ID{}) {
			return invalid(c.dir, "malformed pending key %x", k)
		}
		packs = append(packs, ID(k[1:]))
		return nil
	})
	if err != nil {
		return err
	}
	for _, pack := range packs {
		if err := c.dropPack(pack); err != nil {
			return err
		}
	}
	return nil
}

// DropBlobs forgets the blobs ids where the cache locates them in pack
// (repair: the pack is lost). A blob the cache locates in another pack is
// kept.
func (c *Cache) DropBlobs(pack ID, ids []ID) error {
	b := c.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		k := blobKey(id)
		v, ok, err := c.getRaw(k[:])
		if err != nil {
			return c.fail("drop blobs of pack "+pack.String(), err)
		}
		if l, valid := decodeLocation(v); ok && valid && l.Pack == pack {
			b.Delete(k[:], nil)
		}
	}
	b.Delete(pendingKey(pack), nil)
	return c.fail("drop blobs of pack "+pack.String(), b.Commit(pebble.Sync))
}

func (c *Cache) dropPack(pack ID) error {
	b := c.db.NewBatch()
	defer b.Close()
	err := c.scan(memberKey(pack, ID{})[:1+32], func(k, _ []byte) error {
		blob := blobKey(ID(k[1+32:]))
		loc, ok, err := c.getRaw(blob[:])
		if err != nil {
			return err
		}
		if l, _ := decodeLocation(loc); ok && l.Pack == pack {
			b.Delete(blob[:], nil)
		}
		b.Delete(k, nil)
		if b.Count() >= uint32(c.batch) {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Reset()
		}
		return nil
	})
	if err != nil {
		return c.fail("drop pending pack "+pack.String(), err)
	}
	// The pending mark goes last: until it is gone, a crash here is resumed
	// at the next Open.
	b.Delete(pendingKey(pack), nil)
	return c.fail("drop pending pack "+pack.String(), b.Commit(pebble.Sync))
}
