// Package b64lines is a reversible transform that stores runs of base64
// lines as the bytes they encode.
//
// Mail carries most of its bytes as base64: attachments always, and many
// clients send non-ASCII text parts base64 too. zstd recovers only part of
// base64's 33% overhead (its entropy coder sees 64 equally likely symbols)
// and none of the redundancy of the text under it. Decoding the base64 runs
// before compressing recovers both.
//
// The transform needs no MIME parsing and works on any byte range (a chunk of
// a large body cuts through a part): a line of exactly L characters, L a
// multiple of 4, all from the standard base64 alphabet without padding,
// decodes to exactly 3L/4 bytes, and those bytes encode back to the same L
// characters: for unpadded full quantums base64 is a bijection. So a run of
// such lines of the same length and line ending is replaced by its decoded
// bytes plus the line length and ending, and restored exactly. Everything
// else (headers, the last, padded line of a part, text) is kept literally.
//
// The encoded stream is a sequence of records:
//
//	uvarint litLen, litLen literal bytes,
//	uvarint nLines, and when nLines > 0:
//	  uvarint quads (line length / 4), one byte line ending (0 "\n", 1 "\r\n"),
//	  nLines × quads × 3 decoded bytes.
//
// Both directions stream with bounded memory (a record holds at most
// maxLit literal or maxRun decoded bytes).
package b64lines

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

const (
	minQuads = 4   // 16-character lines: shorter ones are too often words
	maxQuads = 256 // 1024-character lines: above any encoder's line length
	minLines = 3   // a shorter run costs more in framing than it saves
	maxLit   = 64 << 10
	maxRun   = 48 << 10 // decoded bytes per record
)

const (
	eolLF   = 0
	eolCRLF = 1
)

var enc = base64.StdEncoding

// ErrCorrupt is returned by the Reader for a stream this package did not
// write.
var ErrCorrupt = errors.New("b64lines: corrupt stream")

// Writer transforms what is written to it and writes the encoded stream to
// w. Close flushes; it does not close w.
type Writer struct {
	w      io.Writer
	lit    []byte // pending literal bytes
	line   []byte // the current line, until its '\n' (only while it may be a candidate)
	long   bool   // the current line is too long to be base64: it goes to lit
	run    []byte // decoded bytes of the current run
	quads  int    // line shape of the current run
	eol    byte
	nLines int
	hdr    []byte
	err    error
}

// NewWriter returns a Writer writing the encoded stream to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Reset makes t a new Writer writing to w, keeping its buffers (pooled
// writers do not re-grow them for every blob).
func (t *Writer) Reset(w io.Writer) {
	*t = Writer{w: w, lit: t.lit[:0], line: t.line[:0], run: t.run[:0], hdr: t.hdr[:0]}
}

// Write transforms p. Errors from the underlying writer are sticky.
func (t *Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && t.err == nil {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.addPartial(p)
			break
		}
		if len(t.line) == 0 && !t.long {
			t.lineDone(p[:i+1]) // the common case: a whole line in p, no copy
		} else {
			t.addPartial(p[:i+1])
			t.endLine()
		}
		p = p[i+1:]
	}
	if t.err != nil {
		return 0, t.err
	}
	return n, nil
}

// addPartial adds bytes of the current line (with its '\n' if it ends).
func (t *Writer) addPartial(p []byte) {
	if t.long {
		t.addLit(p)
		return
	}
	t.line = append(t.line, p...)
	if len(t.line) > maxQuads*4+2 {
		t.long = true
		t.breakRun()
		t.addLit(t.line)
		t.line = t.line[:0]
	}
}

// endLine handles a complete line (t.line, or already in lit if long).
func (t *Writer) endLine() {
	if t.long {
		t.long = false
		return
	}
	t.lineDone(t.line)
	t.line = t.line[:0]
}

// lineDone handles one complete line (ending in '\n'), not yet in lit.
func (t *Writer) lineDone(line []byte) {
	quads, eol, ok := shape(line)
	if !ok {
		t.breakRun()
		t.addLit(line)
		return
	}
	if t.nLines > 0 && (quads != t.quads || eol != t.eol || len(t.run)+quads*3 > maxRun) {
		t.breakRun()
	}
	if t.nLines == 0 {
		t.quads, t.eol = quads, eol
	}
	t.run, _ = decodeLine(t.run, line[:quads*4])
	t.nLines++
}

// shape says whether line (ending in '\n') is one full base64 line, and its
// length in quads and its line ending.
func shape(line []byte) (quads int, eol byte, ok bool) {
	body := line[:len(line)-1]
	eol = eolLF
	if len(body) > 0 && body[len(body)-1] == '\r' {
		body, eol = body[:len(body)-1], eolCRLF
	}
	if len(body)%4 != 0 || len(body) < minQuads*4 || len(body) > maxQuads*4 {
		return 0, 0, false
	}
	for _, c := range body {
		if !isB64[c] {
			return 0, 0, false
		}
	}
	return len(body) / 4, eol, true
}

var isB64 = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = true
	}
	return t
}()

func decodeLine(dst, chars []byte) ([]byte, error) {
	n := len(dst)
	dst = slices.Grow(dst, len(chars)/4*3)[:n+len(chars)/4*3]
	_, err := enc.Decode(dst[n:], chars)
	return dst, err
}

// breakRun ends the current run: a long enough run becomes a record, a
// short one goes back to the literal bytes it came from.
func (t *Writer) breakRun() {
	if t.nLines == 0 {
		return
	}
	if t.nLines < minLines {
		w := t.quads * 3
		for off := 0; off < len(t.run); off += w {
			t.lit = appendLine(t.lit, t.run[off:off+w], t.eol)
		}
	} else {
		t.emit(true)
	}
	t.run, t.nLines = t.run[:0], 0
}

func appendLine(dst, decoded []byte, eol byte) []byte {
	dst = enc.AppendEncode(dst, decoded)
	if eol == eolCRLF {
		dst = append(dst, '\r')
	}
	return append(dst, '\n')
}

func (t *Writer) addLit(p []byte) {
	for len(p) > 0 {
		room := maxLit - len(t.lit)
		if room <= 0 {
			t.emit(false)
			continue
		}
		k := min(room, len(p))
		t.lit = append(t.lit, p[:k]...)
		p = p[k:]
	}
}

// emit writes one record: the pending literal and, if withRun, the run.
func (t *Writer) emit(withRun bool) {
	if t.err != nil {
		return
	}
	h := binary.AppendUvarint(t.hdr[:0], uint64(len(t.lit)))
	t.write(h)
	t.write(t.lit)
	t.lit = t.lit[:0]
	if !withRun {
		t.hdr = append(h[:0], 0)
		t.write(t.hdr)
		return
	}
	h = binary.AppendUvarint(h[:0], uint64(t.nLines))
	h = binary.AppendUvarint(h, uint64(t.quads))
	h = append(h, t.eol)
	t.hdr = h
	t.write(h)
	t.write(t.run)
}

func (t *Writer) write(p []byte) {
	if t.err == nil && len(p) > 0 {
		_, t.err = t.w.Write(p)
	}
}

// Close writes what is pending. The Writer must not be used afterwards.
func (t *Writer) Close() error {
	if t.long {
		t.long = false
	} else if len(t.line) > 0 {
		// A last line without '\n' is never a run line.
		t.breakRun()
		t.addLit(t.line)
		t.line = t.line[:0]
	}
	t.breakRun()
	if len(t.lit) > 0 {
		t.emit(false)
	}
	return t.err
}

// Reader restores the original bytes from an encoded stream.
type Reader struct {
	r      *bufio.Reader
	lit    int    // literal bytes left in the current record
	lines  int    // run lines left in the current record
	quads  int    // of the current run
	eol    byte   //
	out    []byte // one re-encoded line being served
	dec    []byte
	inRun  bool // the literal of the record is done; its run part is next
	err    error
	header []byte
}

// NewReader returns a Reader decoding the stream in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 32<<10)}
}

func (d *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, d.err
	}
	for d.err == nil {
		switch {
		case len(d.out) > 0:
			n := copy(p, d.out)
			d.out = d.out[n:]
			return n, nil
		case d.lit > 0:
			n, err := d.r.Read(p[:min(len(p), d.lit)])
			d.lit -= n
			if err == io.EOF {
				err = fmt.Errorf("%w: literal cut short", ErrCorrupt)
			}
			if n > 0 {
				if err != nil {
					d.err = err
				}
				return n, nil
			}
			d.err = err
		case d.inRun:
			d.err = d.runHeader()
		case d.lines > 0:
			d.err = d.nextLine()
		default:
			d.err = d.recordHeader()
		}
	}
	return 0, d.err
}

func (d *Reader) recordHeader() error {
	n, err := binary.ReadUvarint(d.r)
	if err == io.EOF {
		return io.EOF // a clean end: between records
	}
	if err != nil || n > maxLit+maxQuads*4+2 {
		return fmt.Errorf("%w: bad literal length", ErrCorrupt)
	}
	d.lit, d.inRun = int(n), true
	return nil
}

func (d *Reader) runHeader() error {
	d.inRun = false
	lines, err := binary.ReadUvarint(d.r)
	if err != nil {
		return fmt.Errorf("%w: record cut short", ErrCorrupt)
	}
	if lines == 0 {
		return nil
	}
	quads, err := binary.ReadUvarint(d.r)
	if err != nil || quads < minQuads || quads > maxQuads || lines*quads*3 > maxRun {
		return fmt.Errorf("%w: bad run header", ErrCorrupt)
	}
	eol, err := d.r.ReadByte()
	if err != nil || eol > eolCRLF {
		return fmt.Errorf("%w: bad line ending", ErrCorrupt)
	}
	d.lines, d.quads, d.eol = int(lines), int(quads), eol
	return nil
}

func (d *Reader) nextLine() error {
	w := d.quads * 3
	if cap(d.dec) < w {
		d.dec = make([]byte, w)
	}
	if _, err := io.ReadFull(d.r, d.dec[:w]); err != nil {
		return fmt.Errorf("%w: run cut short", ErrCorrupt)
	}
	d.lines--
	d.header = appendLine(d.header[:0], d.dec[:w], d.eol)
	d.out = d.header
	return nil
}
