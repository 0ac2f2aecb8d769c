package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/restic/chunker"

	"github.com/y360backup/y360backup/backup/b64lines"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sources"
)

// chunkMin is the body size above which a body is cut into content-defined
// chunks: below it a body is one blob (one read restores it), above it an
// edit stores only the chunks it touched and memory stays one chunk.
const chunkMin = 4 << 20

// The chunker's parameters (part of format 2: writers with others store the
// same body as other chunks, dedup then fails but nothing breaks). Chunks
// are 512 KiB–2 MiB, ~1 MiB on average: restic's minimum and average with a
// quarter of its 8 MiB maximum, because the chunk being cut is held in
// memory. With 19 average bits a chunk reaches the maximum (a cut that is
// not content-defined) with probability e^-3 ≈ 5%.
const (
	chunkLow     = 512 << 10
	chunkHigh    = 2 << 20
	chunkAvgBits = 19
)

// PutStats says what one PutObject did.
type PutStats struct {
	Uploaded   bool  // false when an identical body was already stored
	Compressed int64 // compressed bytes added to packs (0 if nothing new)
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

func parseHash(h string) (pack.ID, bool) {
	var id pack.ID
	if len(h) != 64 {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(h)); err != nil {
		return id, false
	}
	return id, true
}

var (
	smallBufs  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	b64Writers sync.Pool // *b64lines.Writer
)

// maxPooledBuf bounds the buffers kept in smallBufs. Most mail is well below
// it; a buffer grown for a larger blob goes back to the garbage collector
// instead of staying in the pool (measured: pooled 4–8 MiB buffers were
// half of the peak live heap of a 4-user mail backup).
const maxPooledBuf = bigBody

// bigBody is the size from which a body is spooled to a file and takes the
// repository's big-body slot (PutObject). 95% of mail is text below 50 KB;
// the rest is mostly attachments of 0.5–5 MB, which then never sit in memory.
const bigBody = 256 << 10

func putSmallBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		smallBufs.Put(b)
	}
}

// PutObject stores a body as one blob or, above chunkMin, as chunks plus a
// chunk list, and returns its address (the SHA-256 of the whole body).
// Blobs already stored are not added again. The body is durable only after
// the next flush (a checkpoint); nothing may reference it before.
//
// A body up to bigBody is handled in memory. A larger one is spooled to a
// file first (putBig), so memory stays bounded whatever the body's size,
// and such bodies are handled one at a time per repository: the spool's
// disk bandwidth is better spent on one than split among all.
func (r *Repository) PutObject(ctx context.Context, rd io.Reader) (sources.Body, PutStats, error) {
	buf := smallBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer putSmallBuf(buf)
	n, err := readUpTo(buf, rd, bigBody)
	if err != nil {
		return sources.Body{}, PutStats{}, fmt.Errorf("repository: read body: %w", err)
	}
	if n < bigBody {
		id := pack.ID(sha256.Sum256(buf.Bytes()))
		ps, err := r.putBlob(ctx, pack.Data, id, buf.Bytes())
		return sources.Body{Hash: id.String(), Size: n}, ps, err
	}
	select {
	case r.bigBodies <- struct{}{}:
	case <-ctx.Done():
		return sources.Body{}, PutStats{}, ctx.Err()
	}
	defer func() { <-r.bigBodies }()
	rest := io.MultiReader(bytes.NewReader(buf.Bytes()), rd)
	if sz, ok := rd.(sources.SizedReader); ok && sz.Size() <= chunkMin {
		return r.putOnePass(ctx, rest)
	}
	return r.putBig(ctx, rest)
}

// putOnePass stores a body its reader says is at most chunkMin (a Size
// method, as an IMAP literal has): one blob, so it is hashed while it is
// compressed into the spool, and never written raw. A known body then costs
// a wasted compression, which a full backup rarely has and an incremental
// one never (sources skip bodies they know by hash or ID).
func (r *Repository) putOnePass(ctx context.Context, rd io.Reader) (sources.Body, PutStats, error) {
	sp, err := newSpool(r.spoolDir)
	if err != nil {
		return sources.Body{}, PutStats{}, err
	}
	defer sp.close()
	whole := sha256.New()
	cr := &countingReader{r: io.TeeReader(rd, whole)}
	t, n, err := r.compressSpooled(sp, pack.Data, io.LimitReader(cr, chunkMin+1))
	if err != nil {
		return sources.Body{}, PutStats{}, fmt.Errorf("repository: read and compress body: %w", err)
	}
	if cr.n > chunkMin {
		return sources.Body{}, PutStats{}, fmt.Errorf("repository: body longer than the %d bytes its reader announced", chunkMin)
	}
	id := pack.ID(whole.Sum(nil))
	body := sources.Body{Hash: id.String(), Size: cr.n}
	if r.blobs.lookupLocal(id) {
		return body, PutStats{}, nil
	}
	ps, err := r.addSpooled(ctx, sp, t, id, cr.n, n)
	return body, ps, err
}

// readUpTo reads rd into buf until EOF or limit bytes. Unlike
// Buffer.ReadFrom it never grows buf past limit: a body of exactly the pool
// limit must not leave a doubled buffer behind for every large body.
func readUpTo(buf *bytes.Buffer, rd io.Reader, limit int) (int64, error) {
	for buf.Len() < limit {
		if buf.Available() == 0 {
			buf.Grow(min(max(buf.Cap(), 16<<10), limit-buf.Len()))
		}
		p := buf.AvailableBuffer()
		m, err := rd.Read(p[:min(cap(p), limit-buf.Len())])
		buf.Write(p[:m]) // in place: no copy beyond the read itself
		if err == io.EOF {
			break
		}
		if err != nil {
			return int64(buf.Len()), err
		}
	}
	return int64(buf.Len()), nil
}

// putBlob compresses and adds one blob held in memory unless it is known.
func (r *Repository) putBlob(ctx context.Context, t pack.BlobType, id pack.ID, plain []byte) (PutStats, error) {
	if r.blobs.lookupLocal(id) {
		return PutStats{}, nil
	}
	z := smallBufs.Get().(*bytes.Buffer)
	z.Reset()
	defer putSmallBuf(z)
	t, err := r.compress(z, t, bytes.NewReader(plain))
	if err != nil {
		return PutStats{}, fmt.Errorf("repository: compress blob %s: %w", id, err)
	}
	added, err := r.blobs.add(ctx, t, id, len(plain), z.Bytes())
	if err != nil || !added {
		return PutStats{}, err
	}
	return PutStats{Uploaded: true, Compressed: int64(z.Len())}, nil
}

// compress writes the stored form of a blob of type t read from src to w and
// returns the type to record. Data is stored as Data64: base64 runs packed
// (b64lines) before zstd, which stores mail in ~4% less than zstd alone.
func (r *Repository) compress(w io.Writer, t pack.BlobType, src io.Reader) (pack.BlobType, error) {
	e := r.encoder(w)
	defer r.putEncoder(e)
	if t != pack.Data {
		_, err := io.Copy(e, src)
		if cerr := e.Close(); err == nil {
			err = cerr
		}
		return t, err
	}
	bw, _ := b64Writers.Get().(*b64lines.Writer)
	if bw == nil {
		bw = b64lines.NewWriter(e)
	}
	bw.Reset(e)
	defer func() { bw.Reset(nil); b64Writers.Put(bw) }()
	_, err := io.Copy(bw, src)
	if cerr := bw.Close(); err == nil {
		err = cerr
	}
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	return pack.Data64, err
}

// putBig stores a body larger than bigBody with bounded memory: it is
// spooled to a file while hashed, then (unless already stored) compressed
// from the file as one blob or, above chunkMin, as content-defined chunks.
// A known body costs no compression at all.
func (r *Repository) putBig(ctx context.Context, rd io.Reader) (sources.Body, PutStats, error) {
	sp, err := newSpool(r.spoolDir)
	if err != nil {
		return sources.Body{}, PutStats{}, err
	}
	defer sp.close()
	whole := sha256.New()
	n, err := io.Copy(io.MultiWriter(sp.rw, whole), rd)
	if err == nil {
		err = sp.rw.Flush()
	}
	if err != nil {
		return sources.Body{}, PutStats{}, fmt.Errorf("repository: read body: %w", err)
	}
	id := pack.ID(whole.Sum(nil))
	body := sources.Body{Hash: id.String(), Size: n}
	if r.blobs.lookupLocal(id) {
		return body, PutStats{}, nil
	}
	src := reader(sp.raw, n)
	if n <= chunkMin {
		ps, err := r.putBlobSpooled(ctx, sp, pack.Data, id, src, n)
		return body, ps, err
	}
	ps, err := r.putChunked(ctx, sp, id, src)
	return body, ps, err
}

// putBlobSpooled is putBlob for a blob read from src: its stored form goes
// through the spool's second file instead of memory.
func (r *Repository) putBlobSpooled(ctx context.Context, sp *spool, t pack.BlobType, id pack.ID, src io.Reader, rawLen int64) (PutStats, error) {
	if r.blobs.lookupLocal(id) {
		return PutStats{}, nil
	}
	t, n, err := r.compressSpooled(sp, t, src)
	if err != nil {
		return PutStats{}, fmt.Errorf("repository: compress blob %s: %w", id, err)
	}
	return r.addSpooled(ctx, sp, t, id, rawLen, n)
}

// compressSpooled replaces the spool's stored form with that of src and
// returns the type to record and its length.
func (r *Repository) compressSpooled(sp *spool, t pack.BlobType, src io.Reader) (pack.BlobType, int64, error) {
	if err := sp.rewind(); err != nil {
		return t, 0, err
	}
	cw := &countingWriter{w: sp.zw}
	t, err := r.compress(cw, t, src)
	if err == nil {
		err = sp.zw.Flush()
	}
	return t, cw.n, err
}

// addSpooled adds the n stored bytes in the spool as blob id.
func (r *Repository) addSpooled(ctx context.Context, sp *spool, t pack.BlobType, id pack.ID, rawLen, n int64) (PutStats, error) {
	added, err := r.blobs.addFrom(ctx, t, id, int(rawLen), reader(sp.z, n), n)
	if err != nil || !added {
		return PutStats{}, err
	}
	return PutStats{Uploaded: true, Compressed: n}, nil
}

// putChunked cuts a spooled body into content-defined chunks, stores each,
// then the chunk list under id, the hash of the whole body.
func (r *Repository) putChunked(ctx context.Context, sp *spool, id pack.ID, src io.Reader) (PutStats, error) {
	ch := chunker.NewWithBoundaries(src, r.pol, chunkLow, chunkHigh)
	ch.SetAverageBits(chunkAvgBits)
	buf := make([]byte, chunkHigh)
	var (
		list  []byte
		count int
		total PutStats
	)
	for {
		c, err := ch.Next(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return PutStats{}, fmt.Errorf("repository: read spooled body: %w", err)
		}
		cid := pack.ID(sha256.Sum256(c.Data))
		ps, err := r.putBlobSpooled(ctx, sp, pack.Data, cid, bytes.NewReader(c.Data), int64(c.Length))
		if err != nil {
			return PutStats{}, err
		}
		total.Uploaded = total.Uploaded || ps.Uploaded
		total.Compressed += ps.Compressed
		list = append(list, cid[:]...)
		list = binary.AppendUvarint(list, uint64(c.Length))
		count++
	}
	content := append(binary.AppendUvarint([]byte(chunkListMagic), uint64(count)), list...)
	ps, err := r.putBlob(ctx, pack.ChunkList, id, content)
	total.Uploaded = total.Uploaded || ps.Uploaded
	total.Compressed += ps.Compressed
	return total, err
}

const chunkListMagic = "Y3CL"

type chunkRef struct {
	id  pack.ID
	len uint64
}

// parseChunkList decodes a chunk list blob, refusing anything malformed.
func parseChunkList(b []byte) ([]chunkRef, error) {
	rest, ok := bytes.CutPrefix(b, []byte(chunkListMagic))
	if !ok {
		return nil, errors.New("chunk list: bad magic")
	}
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest))/33 {
		return nil, fmt.Errorf("chunk list: bad count")
	}
	rest = rest[n:]
	out := make([]chunkRef, 0, count)
	for i := uint64(0); i < count; i++ {
		if len(rest) < 33 {
			return nil, fmt.Errorf("chunk list: truncated at chunk %d", i)
		}
		var c chunkRef
		copy(c.id[:], rest[:32])
		l, n := binary.Uvarint(rest[32:])
		if n <= 0 || l > chunker.MaxSize {
			return nil, fmt.Errorf("chunk list: chunk %d: bad length", i)
		}
		c.len = l
		rest = rest[32+n:]
		out = append(out, c)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("chunk list: %d bytes of trailing garbage", len(rest))
	}
	return out, nil
}

// HasObject reports whether the body with this hash is stored (or being
// stored by this process). It asks only local state, never the store: a
// false "no" costs one redundant download, never a lost body.
func (r *Repository) HasObject(ctx context.Context, h string) bool {
	id, ok := parseHash(h)
	return ok && r.blobs.lookupLocal(id)
}

// OpenObject returns the plaintext of a body. Every blob is checked against
// its ID as it is read, and a chunked body against its whole hash at EOF.
func (r *Repository) OpenObject(ctx context.Context, h string) (io.ReadCloser, error) {
	id, ok := parseHash(h)
	if !ok {
		return nil, fmt.Errorf("repository: invalid object hash %q", h)
	}
	t, b, err := r.blobs.readBlob(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("repository: object %s: %w", h, err)
	}
	switch t {
	case pack.Data, pack.Data64:
		return io.NopCloser(bytes.NewReader(b)), nil
	case pack.ChunkList:
		refs, err := parseChunkList(b)
		if err != nil {
			return nil, fmt.Errorf("repository: object %s: %w", h, err)
		}
		return &chunkReader{ctx: ctx, r: r, refs: refs, h: sha256.New(), want: id}, nil
	default:
		return nil, fmt.Errorf("repository: object %s is a %s blob, not a body", h, t)
	}
}

// chunkReader streams a chunked body one chunk at a time.
type chunkReader struct {
	ctx  context.Context
	r    *Repository
	refs []chunkRef
	cur  []byte
	buf  []byte // reused for every chunk
	h    hash.Hash
	want pack.ID
	err  error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if len(c.refs) == 0 {
			if got := pack.ID(c.h.Sum(nil)); got != c.want {
				c.err = fmt.Errorf("repository: object %s is corrupt (content hashes to %s)", c.want, got)
			} else {
				c.err = io.EOF
			}
			return 0, c.err
		}
		ref := c.refs[0]
		c.refs = c.refs[1:]
		_, b, err := c.r.blobs.readBlobInto(c.ctx, ref.id, c.buf)
		if err == nil {
			c.buf = b[:0]
		}
		if err == nil && uint64(len(b)) != ref.len {
			err = fmt.Errorf("chunk %s has %d bytes, list says %d", ref.id, len(b), ref.len)
		}
		if err != nil {
			c.err = fmt.Errorf("repository: object %s: %w", c.want, err)
			return 0, c.err
		}
		c.h.Write(b)
		c.cur = b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

func (c *chunkReader) Close() error { c.refs, c.cur, c.buf = nil, nil, nil; return nil }
