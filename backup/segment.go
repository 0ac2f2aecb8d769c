package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sources"
)

// A container's state is a chain of segments, each a tree blob (see
// docs/repository.md "Container state"): a base lists the whole state in
// content-defined pages, a delta the records since the previous segment.

const (
	segBase  = "base"
	segDelta = "delta"
)

// baseMaxDeltas bounds replay: after this many deltas a base is written even
// when they are small (pages shared with the previous base make that cheap).
const baseMaxDeltas = 64

// record is one change in a delta segment, or one item in a base page.
type record struct {
	T    string          `json:"t"` // put, meta, del, reset
	ID   string          `json:"id,omitempty"`
	Hash string          `json:"hash,omitempty"`
	Size int64           `json:"size,omitempty"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

// segmentDoc is a segment blob's content.
type segmentDoc struct {
	V          int             `json:"v"`
	Kind       string          `json:"kind"`
	Container  string          `json:"container"`
	Prev       string          `json:"prev,omitempty"` // delta: the segment before
	BaseBytes  int64           `json:"base_bytes"`     // bytes of the base this chain rests on
	DeltaBytes int64           `json:"delta_bytes"`    // bytes of deltas since it, this one included
	Deltas     int             `json:"deltas"`         // deltas since the base, this one included
	Run        string          `json:"run,omitempty"`
	Time       time.Time       `json:"time"`
	Pages      []string        `json:"pages,omitempty"`
	Records    []record        `json:"records,omitempty"`
	Cursor     json.RawMessage `json:"cursor,omitempty"`
}

// containerState is a container's replayed state.
type containerState struct {
	Name       string
	Items      map[string]sources.Item
	Cursor     json.RawMessage
	Head       string // ID of the last segment applied ("" = none)
	BaseBytes  int64
	DeltaBytes int64
	Deltas     int
}

func newContainerState(name string) *containerState {
	return &containerState{Name: name, Items: map[string]sources.Item{}}
}

// apply replays one record.
func (s *containerState) apply(r record) error {
	switch r.T {
	case "put":
		if r.ID == "" || !validHash(r.Hash) || r.Size < 0 {
			return fmt.Errorf("put record with bad id %q, hash %q or size %d", r.ID, r.Hash, r.Size)
		}
		s.Items[r.ID] = sources.Item{ID: r.ID, Hash: r.Hash, Size: r.Size, Meta: r.Meta}
	case "meta":
		if it, ok := s.Items[r.ID]; ok {
			it.Meta = r.Meta
			s.Items[r.ID] = it
		}
	case "del":
		delete(s.Items, r.ID)
	case "reset":
		s.Items = map[string]sources.Item{}
	default:
		return fmt.Errorf("unknown record type %q", r.T)
	}
	return nil
}

// chainPos is where a container's chain stands: its head and what the
// base rule needs.
type chainPos struct {
	Head       string
	BaseBytes  int64
	DeltaBytes int64
	Deltas     int
}

// needsBase says whether the next segment should be a base.
func (p chainPos) needsBase(pendingBytes int64) bool {
	return p.Head == "" || p.Deltas+1 > baseMaxDeltas || p.DeltaBytes+pendingBytes > p.BaseBytes
}

// itemIter calls fn for every live item of a container, in the order base
// pages list them.
type itemIter func(fn func(sources.Item) error) error

// pageCut says whether a base page ends after item id: content-defined
// (about every 512 items, by a hash of the ID) so pages of an unchanged
// stretch of a container are byte-identical between bases and stored once.
func pageCut(id string, n, bytes int) bool {
	h := uint32(2166136261) // FNV-32a, inline: this runs for every item of a base
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return (h%512 == 0 && n >= 64) || n >= 4096 || bytes >= 1<<20
}

// writeSegment adds the next segment of a container (a base of items, or a
// delta of pending) as tree blobs and returns the new chain position and the
// compressed bytes added. The blobs are durable only after the next flush.
func (r *Repository) writeSegment(ctx context.Context, name string, pos chainPos, pending []record, items itemIter, cursor json.RawMessage, run string) (chainPos, int64, error) {
	doc := segmentDoc{V: FormatVersion, Container: name, Run: run, Time: time.Now().UTC(), Cursor: cursor}
	var written int64
	pendBytes := recordsSize(pending)
	if pos.needsBase(pendBytes) {
		doc.Kind = segBase
		pages, size, n, err := r.writePages(ctx, items)
		if err != nil {
			return pos, 0, err
		}
		doc.Pages, doc.BaseBytes, written = pages, size, n
	} else {
		doc.Kind = segDelta
		doc.Prev = pos.Head
		doc.Records = pending
		doc.BaseBytes = pos.BaseBytes
		doc.DeltaBytes = pos.DeltaBytes + pendBytes
		doc.Deltas = pos.Deltas + 1
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return pos, 0, fmt.Errorf("encode segment: %w", err)
	}
	id := pack.ID(sha256sum(b))
	ps, err := r.putBlob(ctx, pack.Tree, id, b)
	if err != nil {
		return pos, 0, err
	}
	return chainPos{Head: id.String(), BaseBytes: doc.BaseBytes, DeltaBytes: doc.DeltaBytes, Deltas: doc.Deltas}, written + ps.Compressed, nil
}

func recordsSize(recs []record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(len(r.ID) + len(r.Hash) + len(r.Meta) + 24)
	}
	return n
}

// writePages stores the items as base pages in iteration order and returns
// their IDs, the plaintext bytes of all pages and the compressed bytes new.
// Memory is one page.
func (r *Repository) writePages(ctx context.Context, items itemIter) ([]string, int64, int64, error) {
	var (
		pages   []string
		buf     bytes.Buffer
		total   int64
		written int64
		n       int
	)
	enc := json.NewEncoder(&buf)
	emit := func() error {
		if buf.Len() == 0 {
			return nil
		}
		id := pack.ID(sha256sum(buf.Bytes()))
		ps, err := r.putBlob(ctx, pack.Tree, id, buf.Bytes())
		if err != nil {
			return err
		}
		pages = append(pages, id.String())
		total += int64(buf.Len())
		written += ps.Compressed
		buf.Reset()
		n = 0
		return nil
	}
	err := items(func(it sources.Item) error {
		if err := enc.Encode(record{T: "put", ID: it.ID, Hash: it.Hash, Size: it.Size, Meta: it.Meta}); err != nil {
			return err
		}
		n++
		if pageCut(it.ID, n, buf.Len()) {
			return emit()
		}
		return nil
	})
	if err == nil {
		err = emit()
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return pages, total, written, nil
}

// readSegment reads and decodes one segment blob.
func (r *Repository) readSegment(ctx context.Context, head string) (*segmentDoc, error) {
	id, ok := parseHash(head)
	if !ok {
		return nil, fmt.Errorf("segment %q: not a blob ID", head)
	}
	r.treeReads.Add(1)
	t, b, err := r.blobs.readBlob(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", head, err)
	}
	if t != pack.Tree {
		return nil, fmt.Errorf("segment %s: a %s blob, not a tree", head, t)
	}
	var doc segmentDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("segment %s is corrupt: %w", head, err)
	}
	if doc.Kind != segBase && doc.Kind != segDelta {
		return nil, fmt.Errorf("segment %s: unknown kind %q", head, doc.Kind)
	}
	return &doc, nil
}

// readChain reads the segments from head back to its base (at most
// baseMaxDeltas+1), newest first.
func (r *Repository) readChain(ctx context.Context, head string) ([]*segmentDoc, error) {
	var chain []*segmentDoc
	for id := head; ; {
		doc, err := r.readSegment(ctx, id)
		if err != nil {
			return nil, err
		}
		chain = append(chain, doc)
		if doc.Kind == segBase {
			return chain, nil
		}
		if doc.Prev == "" || len(chain) > baseMaxDeltas+1 {
			return nil, fmt.Errorf("segment %s: delta chain without a base within %d segments", id, baseMaxDeltas+1)
		}
		id = doc.Prev
	}
}

// loadState replays the chain ending at head into memory (for reading an
// older point in time; a backup works on the state store instead). An
// unreadable segment or page is an error naming it.
func (r *Repository) loadState(ctx context.Context, name, head string) (*containerState, error) {
	st := newContainerState(name)
	if head == "" {
		return st, nil
	}
	chain, err := r.readChain(ctx, head)
	if err != nil {
		return nil, err
	}
	return r.replayChain(ctx, name, head, chain)
}

// replayChain is loadState for a chain already read (newest first).
func (r *Repository) replayChain(ctx context.Context, name, head string, chain []*segmentDoc) (*containerState, error) {
	st := newContainerState(name)
	for _, p := range chain[len(chain)-1].Pages {
		if err := r.readPage(ctx, p, st.apply); err != nil {
			return nil, err
		}
	}
	for i := len(chain) - 2; i >= 0; i-- {
		for j, rec := range chain[i].Records {
			if err := st.apply(rec); err != nil {
				return nil, fmt.Errorf("segment of %q record %d: %w", name, j, err)
			}
		}
	}
	top := chain[0]
	if top.Container != "" {
		st.Name = top.Container
	}
	st.Head, st.Cursor = head, top.Cursor
	st.BaseBytes, st.DeltaBytes, st.Deltas = top.BaseBytes, top.DeltaBytes, top.Deltas
	return st, nil
}

// readPage calls fn for every record of a base page; only puts are valid.
func (r *Repository) readPage(ctx context.Context, page string, fn func(record) error) error {
	id, ok := parseHash(page)
	if !ok {
		return fmt.Errorf("page %q: not a blob ID", page)
	}
	r.treeReads.Add(1)
	_, b, err := r.blobs.readBlob(ctx, id)
	if err != nil {
		return fmt.Errorf("page %s: %w", page, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxStoredBlob)
	for line := 1; sc.Scan(); line++ {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("page %s line %d: %w", page, line, err)
		}
		if rec.T != "put" {
			return fmt.Errorf("page %s line %d: %q record in a base page", page, line, rec.T)
		}
		if err := fn(rec); err != nil {
			return fmt.Errorf("page %s line %d: %w", page, line, err)
		}
	}
	return sc.Err()
}
