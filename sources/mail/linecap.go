package mail

import (
	"fmt"
	"io"
	"strconv"
)

// maxRespLine bounds one IMAP response line outside literals for the backup
// session (imapclient buffers whole lines: a 120 MB line took 1.2 GB). The
// longest honest line is a UID SEARCH answer without ranges: ~8 bytes per
// message, so 32 MiB is four million messages in one folder. (A variable
// for tests.)
var maxRespLine = 32 << 20

// lineCap passes a server's bytes through, failing once a response line
// (not counting the literals it announces with {n}) exceeds max bytes.
// Literals are skipped in bulk, so message bodies cost no scanning.
type lineCap struct {
	r       io.Reader
	max     int
	line    int    // bytes of the current line so far
	tail    []byte // the line's last bytes, to spot "{n}\r\n"
	literal int64  // literal bytes still to pass through
	err     error
}

func newLineCap(r io.Reader, max int) *lineCap { return &lineCap{r: r, max: max} }

func (c *lineCap) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		if c.literal > 0 {
			k := int(min(c.literal, int64(n-i)))
			c.literal -= int64(k)
			i += k
			continue
		}
		b := p[i]
		i++
		c.line++
		if c.line > c.max {
			c.err = fmt.Errorf("a response line is longer than %d MiB: a broken or hostile server", c.max>>20)
			return i, c.err // what came before the cap is still delivered
		}
		if len(c.tail) == 24 {
			c.tail = append(c.tail[:0], c.tail[1:]...)
		}
		c.tail = append(c.tail, b)
		if b == '\n' {
			c.literal = literalSize(c.tail)
			c.line, c.tail = 0, c.tail[:0]
		}
	}
	return n, err
}

// literalSize reads the n of a line ending in "{n}\r\n" (or "{n+}\r\n"), 0
// if it ends otherwise.
func literalSize(tail []byte) int64 {
	s := string(tail)
	if len(s) < 4 || s[len(s)-2:] != "\r\n" || s[len(s)-3] != '}' {
		return 0
	}
	s = s[:len(s)-3]
	open := -1
	for j := len(s) - 1; j >= 0; j-- {
		if s[j] == '{' {
			open = j
			break
		}
	}
	if open < 0 {
		return 0
	}
	digits := s[open+1:]
	if len(digits) > 0 && digits[len(digits)-1] == '+' {
		digits = digits[:len(digits)-1]
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || v < 0 {
		return 0
	}
	return v
}
