package contacts

import (
	"bytes"
	"strings"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// vcardScan reads a vCard stream as it passes to the repository and keeps
// only what the item metadata needs: the first UID and whether the bytes
// are framed by BEGIN:VCARD … END:VCARD. Memory is bounded: a logical line
// (after unfolding, RFC 6350 §3.2) is kept up to maxLine bytes, so a PHOTO
// of megabytes costs nothing. We never parse into a model or rewrite.
type vcardScan struct {
	cur       []byte
	over      bool // cur was cut at maxLine
	lineStart bool // the previous byte ended a line
	seen      bool // any byte at all
	first     string
	last      string
	uid       string
}

const maxLine = 4096

type vcardInfo struct {
	UID       string
	Malformed bool
}

func (v *vcardScan) Write(p []byte) (int, error) {
	for _, c := range p {
		if v.lineStart {
			v.lineStart = false
			if c == ' ' || c == '\t' {
				continue // folded continuation: the line goes on
			}
			v.flush()
		}
		v.seen = true
		if c == '\n' {
			v.lineStart = true
			if n := len(v.cur); n > 0 && v.cur[n-1] == '\r' {
				v.cur = v.cur[:n-1] // a fold is CRLF + space: the CR goes too
			}
			continue
		}
		if len(v.cur) < maxLine {
			v.cur = append(v.cur, c)
		} else {
			v.over = true
		}
	}
	return len(p), nil
}

// flush ends one logical line.
func (v *vcardScan) flush() {
	line := string(bytes.TrimSuffix(v.cur, []byte("\r")))
	over := v.over
	v.cur, v.over = v.cur[:0], false
	if line == "" {
		return
	}
	if v.first == "" {
		v.first = strings.TrimPrefix(line, "\ufeff")
	}
	v.last = line
	if over || v.uid != "" {
		return
	}
	if name, value := dav.SplitContentLine(line); name == "UID" {
		v.uid = value
	}
}

func (v *vcardScan) finish() vcardInfo {
	v.flush()
	return vcardInfo{
		UID: v.uid,
		Malformed: !strings.EqualFold(strings.TrimSpace(v.first), "BEGIN:VCARD") ||
			!strings.EqualFold(strings.TrimSpace(v.last), "END:VCARD"),
	}
}
