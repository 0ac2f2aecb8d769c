package caldavdemo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// CalendarInfo describes a collection to create.
type CalendarInfo struct {
	DisplayName string
	Color       string // "#rrggbb", Apple calendar-color
	Description string
	Components  []string // default {"VEVENT"}
}

type user struct {
	email string
	cals  map[string]*collection // by path segment
}

type collection struct {
	name  string
	info  CalendarInfo
	objs  map[string]*object // by object name
	uids  map[string]string  // UID → object name (RFC 4791 §5.3.2.1: one object per UID)
	tombs map[string]int64   // deleted object name → revision of the deletion
	rev   int64              // revision of the last change (server-wide counter)
	min   int64              // sync-tokens older than this are refused
}

type object struct {
	name string
	data []byte // the bytes GET serves
	cal  *ical.Calendar
	uid  string
	etag string
	rev  int64
	mod  time.Time
}

func (c *collection) ctag() string { return fmt.Sprintf("%d", c.rev) }

// syncToken encodes a revision as an opaque URI (RFC 6578 wants a URI).
func syncToken(rev int64) string { return fmt.Sprintf("http://caldavdemo.invalid/sync/%d", rev) }

func parseSyncToken(tok string) (int64, bool) {
	var rev int64
	if _, err := fmt.Sscanf(tok, "http://caldavdemo.invalid/sync/%d", &rev); err != nil || syncToken(rev) != tok {
		return 0, false
	}
	return rev, true
}

// normalize decodes and re-encodes an .ics the way the server will serve it.
func normalize(ics []byte) ([]byte, *ical.Calendar, error) {
	cal, err := ical.NewDecoder(bytes.NewReader(ics)).Decode()
	if err != nil {
		return nil, nil, fmt.Errorf("parse iCalendar: %w", err)
	}
	return encodeModel(cal)
}

// encodeModel encodes cal and returns the bytes with a model decoded from
// exactly those bytes, so what go-webdav re-encodes on GET is identical.
func encodeModel(cal *ical.Calendar) ([]byte, *ical.Calendar, error) {
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, nil, fmt.Errorf("encode iCalendar: %w", err)
	}
	// Decode what we will serve so the model matches the bytes exactly.
	cal, err := ical.NewDecoder(bytes.NewReader(buf.Bytes())).Decode()
	if err != nil {
		return nil, nil, fmt.Errorf("re-parse iCalendar: %w", err)
	}
	return buf.Bytes(), cal, nil
}

// uidOf is the UID of the object's first component that has one.
func uidOf(cal *ical.Calendar) string {
	for _, c := range cal.Children {
		if p := c.Props.Get(ical.PropUID); p != nil && c.Name != ical.CompTimezone {
			return p.Value
		}
	}
	return ""
}

func etagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:12])
}

// Paths.
func principalPath(email string) string { return "/" + email + "/" }
func homePath(email string) string      { return "/calendars/" + email + "/" }

// splitPath maps a request path below the user's home to (collection,
// object); ok is false for paths outside the home.
func splitPath(email, p string) (col, obj string, ok bool) {
	home := homePath(email)
	clean := path.Clean(p)
	if clean+"/" == home {
		return "", "", true
	}
	if !strings.HasPrefix(clean, home) {
		return "", "", false
	}
	parts := strings.Split(strings.TrimPrefix(clean, home), "/")
	switch len(parts) {
	case 1:
		return parts[0], "", true
	case 2:
		return parts[0], parts[1], true
	}
	return "", "", false
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
