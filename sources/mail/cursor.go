package mail

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// cursor is a folder's resume state, committed with every index segment.
//
// Invariant: every UID <= LastUID that existed at the server when it was
// processed is either a live item of the container or listed in Failed.
// Failed UIDs are retried at the start of the next run (and at the end of
// this one); a failed UID that the server no longer has is dropped.
type cursor struct {
	UIDValidity uint32 `json:"uidvalidity"`
	LastUID     uint32 `json:"last_uid"`
	// HighestModSeq is the folder's HIGHESTMODSEQ when the last flag pass
	// completed; only set when the server has CONDSTORE.
	HighestModSeq uint64 `json:"highest_modseq,omitempty"`
	// Failed lists UIDs below LastUID whose body could not be fetched yet.
	Failed []uint32 `json:"failed,omitempty"`
}

// maxFailed bounds the retry list. A folder with more failures than this is
// systematically broken; it is reported and its cursor stops advancing.
const maxFailed = 1000

func decodeCursor(raw json.RawMessage) (cursor, bool) {
	var c cursor
	if len(raw) == 0 || string(raw) == "null" {
		return c, false
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.UIDValidity == 0 {
		return cursor{}, false
	}
	return c, true
}

func (c cursor) clone() cursor {
	c.Failed = append([]uint32(nil), c.Failed...)
	return c
}

func (c *cursor) isFailed(uid imap.UID) bool {
	i := sort.Search(len(c.Failed), func(i int) bool { return c.Failed[i] >= uint32(uid) })
	return i < len(c.Failed) && c.Failed[i] == uint32(uid)
}

// addFailed records uid in the sorted retry list.
func (c *cursor) addFailed(uid imap.UID) {
	i := sort.Search(len(c.Failed), func(i int) bool { return c.Failed[i] >= uint32(uid) })
	if i < len(c.Failed) && c.Failed[i] == uint32(uid) {
		return
	}
	c.Failed = append(c.Failed, 0)
	copy(c.Failed[i+1:], c.Failed[i:])
	c.Failed[i] = uint32(uid)
}

func (c *cursor) removeFailed(uid imap.UID) {
	i := sort.Search(len(c.Failed), func(i int) bool { return c.Failed[i] >= uint32(uid) })
	if i < len(c.Failed) && c.Failed[i] == uint32(uid) {
		c.Failed = append(c.Failed[:i], c.Failed[i+1:]...)
	}
	if len(c.Failed) == 0 {
		c.Failed = nil
	}
}

// itemID is the container item ID of a message: "<uidvalidity>/<uid>".
func itemID(uidValidity uint32, uid imap.UID) string {
	return strconv.FormatUint(uint64(uidValidity), 10) + "/" + strconv.FormatUint(uint64(uid), 10)
}

// parseItemID is the inverse of itemID.
func parseItemID(id string) (uidValidity uint32, uid imap.UID, ok bool) {
	a, b, found := strings.Cut(id, "/")
	if !found {
		return 0, 0, false
	}
	v, err1 := strconv.ParseUint(a, 10, 32)
	u, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil || v == 0 || u == 0 {
		return 0, 0, false
	}
	return uint32(v), imap.UID(u), true
}

// meta is an item's metadata as stored in the index.
type meta struct {
	UID       uint32   `json:"uid"`
	Flags     []string `json:"flags"`
	Date      string   `json:"date"` // INTERNALDATE, RFC 3339
	Size      int64    `json:"size"` // RFC822.SIZE as the server reported it
	MessageID string   `json:"message_id,omitempty"`
}

func (m meta) encode() json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil { // cannot happen for this struct
		panic(fmt.Sprintf("mail: encode meta: %v", err))
	}
	return b
}

func decodeMeta(raw json.RawMessage) (meta, error) {
	var m meta
	err := json.Unmarshal(raw, &m)
	return m, err
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// canonicalFlags sorts flags, drops \Recent (session-only) and duplicates,
// and spells system flags the standard way, so that equal flag sets compare
// equal however the server spelt them.
func canonicalFlags(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	seen := map[string]bool{}
	for _, f := range flags {
		s := string(f)
		if strings.HasPrefix(s, `\`) {
			switch strings.ToLower(s) {
			case `\recent`:
				continue
			case `\seen`:
				s = `\Seen`
			case `\answered`:
				s = `\Answered`
			case `\flagged`:
				s = `\Flagged`
			case `\deleted`:
				s = `\Deleted`
			case `\draft`:
				s = `\Draft`
			}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func equalFlags(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
