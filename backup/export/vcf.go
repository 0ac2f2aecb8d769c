package export

import (
	"bufio"
	"context"
	"io"
	"path"
	"strings"
	"time"

	"github.com/y360backup/y360backup/backup"
)

// contacts writes an address book as one .vcf per contact (the stored
// bytes, unchanged) and <book>.vcf holding all of them: vCard files may hold
// any number of cards (RFC 6350 §3.1), so merging is concatenation, streamed
// one card at a time (a 5 MB card never sits in memory).
func (e *exporter) contacts(dir string, sc backup.SelectedContainer) error {
	u := e.uniqIn(dir)
	for _, it := range sc.Items {
		name := strings.TrimSuffix(path.Base(it.ID), ".vcf")
		e.file(sc, dir+"/"+u.name(SafeName(name), ".vcf"), it, time.Time{})
	}
	w, err := e.out.create(e.sibling(dir, ".vcf"), -1, time.Time{})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, it := range sc.Items {
		if err := e.appendCard(bw, it); err != nil {
			e.fail(sc, it.ID, err) // the card's own .vcf is there (or failed on its own)
		}
	}
	if err := bw.Flush(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// appendCard copies one card and ends it with CRLF if it did not end a line.
func (e *exporter) appendCard(w *bufio.Writer, it backup.ItemView) error {
	last := &lastByte{w: w}
	if err := e.copyItem(context.Background(), it, last); err != nil {
		return err
	}
	if last.n > 0 && last.b != '\n' {
		_, err := w.WriteString("\r\n")
		return err
	}
	return nil
}

// lastByte passes writes through and remembers the final byte.
type lastByte struct {
	w io.Writer
	b byte
	n int64
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.b = p[n-1]
		l.n += int64(n)
	}
	return n, err
}
