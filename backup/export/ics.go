package export

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// maxMergeObject bounds the calendar objects read into memory for the merged
// file; larger ones are still exported as their own .ics.
const maxMergeObject = 8 << 20

// merger builds one VCALENDAR out of many: it keeps every top-level
// component (VEVENT, VTODO, ...) verbatim and each VTIMEZONE once.
type merger struct {
	tz    map[string]bool
	parts [][]byte
}

func newMerger() *merger { return &merger{tz: map[string]bool{}} }

func (m *merger) add(obj []byte) {
	sc := bufio.NewScanner(bytes.NewReader(obj))
	sc.Buffer(make([]byte, 64<<10), maxMergeObject)
	depth := 0
	var cur bytes.Buffer
	isTZ, tzid := false, ""
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		upper := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(upper, "BEGIN:"):
			depth++
			if depth == 2 {
				cur.Reset()
				isTZ, tzid = upper == "BEGIN:VTIMEZONE", ""
			}
		case strings.HasPrefix(upper, "END:"):
			if depth == 2 {
				cur.WriteString(line + "\r\n")
				if !isTZ || (tzid != "" && !m.tz[tzid]) || tzid == "" {
					if isTZ {
						m.tz[tzid] = true
					}
					m.parts = append(m.parts, append([]byte(nil), cur.Bytes()...))
				}
				depth--
				continue
			}
			depth--
		}
		if depth >= 2 {
			if isTZ && depth == 2 && strings.HasPrefix(upper, "TZID:") {
				tzid = line[5:]
			}
			cur.WriteString(line + "\r\n")
		}
	}
}

func (m *merger) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//y360backup//export//EN\r\n")
	for _, p := range m.parts {
		bw.Write(p)
	}
	bw.WriteString("END:VCALENDAR\r\n")
	return bw.Flush()
}
