package mail

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/sources"
)

// What the destination already holds is learnt from one streamed
// UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE ENVELOPE [FLAGS]). Only
// messages that could match an item are kept, so memory follows the items,
// not the folder. An item is present when the destination has
//   - a message with the same Message-Id and size (the backed-up bytes'
//     length or the server's RFC822.SIZE); the bytes are not compared, which
//     would mean downloading every restored message again on a rerun;
//   - for an item without Message-Id: a message without one, of the same
//     size and INTERNALDATE, whose BODY[] hashes to the item's hash (those
//     few candidates are downloaded and hashed as they stream).
// Matches are one to one: two equal items in the backup need two equal
// messages at the destination.

// destMsg is a destination message that may match an item.
type destMsg struct {
	uid   uint32
	size  int64
	date  int64 // INTERNALDATE, Unix seconds
	flags []string
	hash  string // BODY[] SHA-256, for candidates without Message-Id
	used  bool
}

type destIndex struct {
	byID map[string][]*destMsg
	noID []*destMsg
}

// plan is what one connection does after indexing.
type plan struct {
	appends []int       // items to APPEND, in item order
	stores  []flagStore // replace policy: flags to set on present messages
}

// flagStore sets one flag set on messages that match items.
type flagStore struct {
	flags []string
	uids  []uint32
	items []int
}

func itemDate(m meta) int64 {
	t, err := time.Parse(time.RFC3339, m.Date)
	if err != nil {
		return 0
	}
	return t.Unix()
}

func sizeMatches(d *destMsg, it sources.RestoreItem, m meta) bool {
	return d.size == it.Size || (m.Size > 0 && d.size == m.Size)
}

// plan decides, for every unsettled item, whether it is there already
// (settled now), needs its flags set (replace) or must be appended.
func (rs *restorer) plan(c *wconn, sel selected) (plan, error) {
	var p plan
	var todo []int
	needIndex := false
	for _, i := range rs.order {
		if rs.done[i] {
			continue
		}
		todo = append(todo, i)
		if rs.t.Policy != sources.PolicyCopy || rs.uncertain[i] {
			needIndex = true
		}
	}
	var ix *destIndex
	if needIndex && sel.exists > 0 {
		var err error
		if ix, err = rs.index(c, todo); err != nil {
			return p, fmt.Errorf("index of the destination: %w", err)
		}
	}
	groups := map[string]*flagStore{}
	for _, i := range todo {
		var d *destMsg
		if ix != nil && (rs.t.Policy != sources.PolicyCopy || rs.uncertain[i]) {
			d = ix.take(rs.items[i], rs.metas[i])
		}
		ours := rs.uncertain[i] // most likely our own APPEND that landed
		rs.uncertain[i] = false
		switch {
		case d == nil:
			p.appends = append(p.appends, i)
		case rs.t.Policy == sources.PolicyReplace:
			want := restoreFlags(rs.metas[i].Flags, sel.perm)
			if sameFlagSet(d.flags, want) {
				rs.settle(i, ours)
				continue
			}
			key := strings.Join(want, " ")
			g := groups[key]
			if g == nil {
				g = &flagStore{flags: want}
				groups[key] = g
			}
			g.uids = append(g.uids, d.uid)
			g.items = append(g.items, i)
		default:
			rs.settle(i, ours)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.stores = append(p.stores, *groups[k])
	}
	return p, nil
}

// index reads the destination's messages that could match items of todo.
func (rs *restorer) index(c *wconn, todo []int) (*destIndex, error) {
	ids := map[string]bool{}
	type sd struct {
		size int64
		date int64
	}
	noIDKeys := map[sd]bool{}
	noIDSizes := map[int64]bool{}
	for _, i := range todo {
		m, it := rs.metas[i], rs.items[i]
		if m.MessageID != "" {
			ids[m.MessageID] = true
			continue
		}
		d := itemDate(m)
		for _, size := range []int64{it.Size, m.Size} {
			noIDKeys[sd{size, d}] = true
			noIDSizes[size] = true
		}
	}
	ix := &destIndex{byID: map[string][]*destMsg{}}
	items := "UID RFC822.SIZE INTERNALDATE ENVELOPE"
	if rs.t.Policy == sources.PolicyReplace {
		items += " FLAGS"
	}
	tag, err := c.command("UID FETCH 1:* (" + items + ")")
	if err != nil {
		return nil, err
	}
	var candidates []*destMsg
	_, err = c.wait(tag, func(r *resp) error {
		f := r.fetch
		if r.kind != "FETCH" || f == nil || f.uid == 0 || !f.env || f.size < 0 {
			return nil // unsolicited data
		}
		d := &destMsg{uid: f.uid, size: f.size, date: f.date.Unix(), flags: f.flags}
		switch {
		case f.msgID != "":
			if ids[f.msgID] {
				ix.byID[f.msgID] = append(ix.byID[f.msgID], d)
			}
		case noIDSizes[f.size]:
			ix.noID = append(ix.noID, d)
			if noIDKeys[sd{f.size, d.date}] || noIDKeys[sd{f.size, 0}] {
				candidates = append(candidates, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("UID FETCH 1:*: %w", err)
	}
	if len(candidates) > 0 {
		if err := hashBodies(c, candidates); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

// hashBodies downloads and hashes the bodies of candidates (messages
// without Message-Id that may equal an item), streaming.
func hashBodies(c *wconn, candidates []*destMsg) error {
	for start := 0; start < len(candidates); start += maxSetUIDs {
		part := candidates[start:min(start+maxSetUIDs, len(candidates))]
		byUID := make(map[uint32]*destMsg, len(part))
		uids := make([]uint32, 0, len(part))
		for _, d := range part {
			byUID[d.uid] = d
			uids = append(uids, d.uid)
		}
		tag, err := c.command("UID FETCH " + uidSetString(uids) + " (UID BODY.PEEK[])")
		if err != nil {
			return err
		}
		_, err = c.wait(tag, func(r *resp) error {
			if f := r.fetch; f != nil && f.hash != "" {
				if d := byUID[f.uid]; d != nil {
					d.hash = f.hash
				}
			}
			return nil
		})
		var ie *imap.Error
		if err != nil && !errors.As(err, &ie) { // NO: some vanished meanwhile, they just do not match
			return fmt.Errorf("UID FETCH BODY[]: %w", err)
		}
	}
	return nil
}

// take returns an unused destination message equal to the item, if any.
func (ix *destIndex) take(it sources.RestoreItem, m meta) *destMsg {
	if m.MessageID != "" {
		for _, d := range ix.byID[m.MessageID] {
			if !d.used && sizeMatches(d, it, m) {
				d.used = true
				return d
			}
		}
		return nil
	}
	for _, d := range ix.noID {
		if !d.used && d.hash != "" && d.hash == it.Hash && sizeMatches(d, it, m) {
			d.used = true
			return d
		}
	}
	return nil
}

// uidSetString renders UIDs as a compact sequence set ("1:3,7").
func uidSetString(uids []uint32) string {
	s := append([]uint32(nil), uids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] <= s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(s[i]), 10))
		if s[j] != s[i] {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(uint64(s[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

// restoreFlags is the flag list an item is restored with: the five system
// flags it had (never \Recent, which only the server sets), and its keywords
// that the folder's PERMANENTFLAGS allows and that are valid atoms.
func restoreFlags(flags []string, perm permFlags) []string {
	out := []string{}
	for _, f := range canonicalStrings(flags) {
		if strings.HasPrefix(f, `\`) {
			switch f {
			case `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`:
				out = append(out, f)
			}
			continue
		}
		if validKeyword(f) && perm.allows(f) {
			out = append(out, f)
		}
	}
	return out
}

// sameFlagSet compares flag sets as IMAP does: case-insensitively (servers
// differ in how they spell keywords back: imapmemserver says "$forwarded").
func sameFlagSet(a, b []string) bool {
	lower := func(fl []string) []string {
		out := canonicalStrings(fl)
		for i := range out {
			out[i] = strings.ToLower(out[i])
		}
		sort.Strings(out)
		return out
	}
	return equalFlags(lower(a), lower(b))
}

func canonicalStrings(flags []string) []string {
	fl := make([]imap.Flag, len(flags))
	for i, f := range flags {
		fl[i] = imap.Flag(f)
	}
	return canonicalFlags(fl)
}

// validKeyword reports whether k can be sent as a flag keyword (an atom).
func validKeyword(k string) bool {
	if k == "" || len(k) > 200 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// maxSetUIDs bounds the UIDs in one command's set, keeping command lines
// short (servers limit them, Dovecot to 64 KB) however scattered the UIDs.
const maxSetUIDs = 500

// storeFlags applies the replace policy's flag changes.
func (rs *restorer) storeFlags(c *wconn, stores []flagStore) error {
	for _, g := range stores {
		for start := 0; start < len(g.uids); start += maxSetUIDs {
			end := min(start+maxSetUIDs, len(g.uids))
			err := c.simple("UID STORE " + uidSetString(g.uids[start:end]) + " FLAGS.SILENT (" + strings.Join(g.flags, " ") + ")")
			var ie *imap.Error
			switch {
			case err == nil:
				for _, i := range g.items[start:end] {
					rs.settle(i, true)
				}
			case errors.As(err, &ie):
				for _, i := range g.items[start:end] {
					rs.failItem(i, fmt.Errorf("set flags: %w", err))
				}
			default:
				return err
			}
		}
	}
	return nil
}
