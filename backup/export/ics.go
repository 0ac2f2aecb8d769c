package export

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxMergeObject bounds the calendar objects read into memory for the merged
// file; larger ones are still exported as their own .ics.
const maxMergeObject = 8 << 20

// merger builds one VCALENDAR out of many: it keeps every top-level
// component (VEVENT, VTODO, ...) verbatim, each VTIMEZONE once, and the
// calendar-level properties the objects carry (first value wins), and
// names the calendar (X-WR-CALNAME) as its owner sees it.
type merger struct {
	name  string
	tz    map[string]bool
	props map[string]string // upper-cased property name → its first line, verbatim
	order []string
	last  string // the property a folded continuation line belongs to
	parts [][]byte
}

// calendarProps are the VCALENDAR properties worth keeping in the merged
// file; VERSION and PRODID are the merger's own, X-WR-CALNAME its name.
var calendarProps = []string{"CALSCALE", "METHOD", "X-WR-TIMEZONE", "X-WR-CALDESC", "X-APPLE-CALENDAR-COLOR"}

func newMerger() *merger { return &merger{tz: map[string]bool{}, props: map[string]string{}} }

// calendarProp records a property line of the VCALENDAR itself.
func (m *merger) calendarProp(line string) {
	if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		if m.last != "" {
			m.props[m.last] += "\r\n" + line
		}
		return
	}
	m.last = ""
	name, _, _ := strings.Cut(line, ":")
	name, _, _ = strings.Cut(name, ";")
	name = strings.ToUpper(name)
	if _, seen := m.props[name]; seen || !slices.Contains(calendarProps, name) {
		return
	}
	m.props[name], m.last = line, name
	m.order = append(m.order, name)
}

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
		if depth == 1 && !strings.HasPrefix(upper, "BEGIN:") {
			m.calendarProp(line)
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
	if m.name != "" {
		bw.WriteString(fold("X-WR-CALNAME:" + escapeText(m.name)))
	}
	for _, name := range m.order {
		bw.WriteString(m.props[name] + "\r\n")
	}
	for _, p := range m.parts {
		bw.Write(p)
	}
	bw.WriteString("END:VCALENDAR\r\n")
	return bw.Flush()
}

// escapeText escapes an iCalendar TEXT value (RFC 5545 3.3.11).
func escapeText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// fold ends a content line, folded at 75 octets without splitting a UTF-8
// sequence (RFC 5545 3.1).
func fold(line string) string {
	var b strings.Builder
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		b.WriteString(line[:cut] + "\r\n ")
		line = line[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(line + "\r\n")
	return b.String()
}
