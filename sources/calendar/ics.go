package calendar

import (
	"bytes"
	"strings"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// icsInfo is what we cheaply learn from an object's bytes for its metadata.
// We never parse into a model: the bytes are stored as the server sent them,
// so X-TELEMOST-CONFERENCE and other vendor properties survive untouched.
type icsInfo struct {
	UID       string
	Component string // first component that is not VCALENDAR/VTIMEZONE
	Malformed bool   // no BEGIN:VCALENDAR ... END:VCALENDAR frame
}

// scanICS walks the unfolded content lines once (RFC 5545 §3.1).
func scanICS(b []byte) icsInfo {
	var info icsInfo
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	first, last := "", ""
	var cur []byte
	flush := func() {
		if len(cur) == 0 {
			return
		}
		line := string(cur)
		cur = cur[:0]
		if first == "" {
			first = line
		}
		last = line
		name, value := dav.SplitContentLine(line)
		switch {
		case name == "UID" && info.UID == "":
			info.UID = value
		case name == "BEGIN" && info.Component == "":
			switch v := strings.ToUpper(value); v {
			case "VCALENDAR", "VTIMEZONE", "STANDARD", "DAYLIGHT":
			default:
				info.Component = v
			}
		}
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			cur = append(cur, line[1:]...) // folded continuation
			continue
		}
		flush()
		cur = append(cur, line...)
	}
	flush()
	info.Malformed = !strings.EqualFold(first, "BEGIN:VCALENDAR") || !strings.EqualFold(last, "END:VCALENDAR")
	return info
}
