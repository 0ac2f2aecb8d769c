package dav

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// What a "copy" restore changes. A CalDAV collection holds at most one
// object per UID (RFC 4791 §5.3.2.1, CALDAV:no-uid-conflict; Radicale
// enforces it, for CardDAV address books too), so a second copy of an event that is still there needs both
// a free object name and a new UID. Everything else stays byte for byte.

// CopyName returns the first "<stem>-restored-<n><ext>" (n = 1, 2, ...)
// that taken says is free.
func CopyName(name string, taken func(string) bool) string {
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 1; ; n++ {
		if c := fmt.Sprintf("%s-restored-%d%s", stem, n, ext); !taken(c) {
			return c
		}
	}
}

// CopyUID derives the UID of a copy from the original UID and the copy's
// object name, so the same copy always gets the same UID.
func CopyUID(uid, name string) string {
	sum := sha256.Sum256([]byte(uid + "\x00" + name))
	return uid + "-restored-" + hex.EncodeToString(sum[:4])
}

// RewriteUID replaces the value of every UID property whose value is old
// (the master and all its RECURRENCE-ID overrides share it; alarms' own
// UIDs differ and stay) with uid. Other lines, their folding and line ends
// are kept exactly.
func RewriteUID(data []byte, old, uid string) []byte {
	var out bytes.Buffer
	out.Grow(len(data) + 64)
	for len(data) > 0 {
		// One content line with its folded continuations (RFC 5545 §3.1).
		end := lineEnd(data)
		for end < len(data) && (data[end] == ' ' || data[end] == '\t') {
			end += lineEnd(data[end:])
		}
		line := data[:end]
		data = data[end:]
		name, value := SplitContentLine(string(unfold(line)))
		if name != "UID" || value != old {
			out.Write(line)
			continue
		}
		eol := "\r\n"
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			eol = "\n"
		}
		// Keep the property name and any parameters as written.
		u := string(unfold(line))
		head := u[:len(u)-len(value)]
		out.WriteString(fold(head+uid, eol))
	}
	return out.Bytes()
}

// lineEnd is the length of the first physical line of b, its LF included.
func lineEnd(b []byte) int {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return i + 1
	}
	return len(b)
}

// unfold joins a content line's physical lines and drops the line end.
func unfold(line []byte) []byte {
	var out []byte
	for len(line) > 0 {
		n := lineEnd(line)
		phys := bytes.TrimRight(line[:n], "\r\n")
		if out != nil {
			phys = phys[1:] // the fold's leading space or tab
		} else {
			out = []byte{}
		}
		out = append(out, phys...)
		line = line[n:]
	}
	return out
}

// fold splits s into physical lines of at most 75 octets (RFC 5545 §3.1),
// never inside a UTF-8 sequence, each ended by eol.
func fold(s, eol string) string {
	const max = 75
	var b strings.Builder
	first := true
	for {
		limit := max
		if !first {
			limit = max - 1 // the leading space counts
		}
		if len(s) <= limit {
			if !first {
				b.WriteByte(' ')
			}
			b.WriteString(s + eol)
			return b.String()
		}
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if !first {
			b.WriteByte(' ')
		}
		b.WriteString(s[:cut] + eol)
		s, first = s[cut:], false
	}
}

// SplitContentLine returns the upper-cased property name and the value
// (text after the first colon that is not inside a quoted parameter).
func SplitContentLine(line string) (string, string) {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted {
				name := line[:i]
				if j := strings.IndexByte(name, ';'); j >= 0 {
					name = name[:j]
				}
				return strings.ToUpper(name), line[i+1:]
			}
		}
	}
	return "", ""
}

// RestoredPrefix starts the path segment of every non-destructive restore
// destination, so an admin can tell them apart from the user's own.
const RestoredPrefix = "restored-"

// RestoredSegment is the collection path segment a non-destructive restore
// of original under under writes to. It is derived only from the two names,
// so a rerun (the engine derives under from the snapshot) finds the
// collection the first run created and continues there.
func RestoredSegment(under, original string) string {
	sum := sha256.Sum256([]byte(under + "\x00" + original))
	return RestoredPrefix + hex.EncodeToString(sum[:6])
}
