package mail

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// Duplicates after a kill -9 (issue 16.3). A restore killed with APPENDs in
// flight leaves the server's session running: it may commit those messages
// after the rerun has indexed the folder, and the rerun, not seeing them,
// appends them again. No indexing can prevent that, so a rerun ends with a
// post-pass that removes the extra copies, under rules that make it safe:
//
//  1. Only messages a restore created are ever removed: UIDs the server
//     returned in APPENDUID to this restore or to an earlier run (the
//     journal, restore_journal.go), for the folder's current UIDVALIDITY. UIDs
//     are never reused within a UIDVALIDITY, so no message the user had, or
//     that arrived by any other way, can be named by them.
//  2. A message is removed only while a byte-identical one (same SHA-256 of
//     BODY[]) stays in the folder, and only as many as exceed the number of
//     equal items this restore writes: the folder ends with each item at
//     least as often as the backup has it.
//  3. Removal is UID STORE +FLAGS.SILENT (\Deleted) then UID EXPUNGE of those
//     UIDs alone (UIDPLUS); never a plain EXPUNGE, which would also remove
//     what the user had marked \Deleted. Without UIDPLUS nothing is removed.
//  4. The copy policy asks for duplicates: no post-pass.
//
// The post-pass alone cannot help when the copies of two killed runs were
// both unanswered (no APPENDUID names them). So a run also marks the journal
// (its mtime) before sending APPENDs, and a rerun that finds a journal first
// waits until settleTime has passed since the killed run last sent one:
// what a killed run sent is then in the folder before the rerun indexes it,
// and the rerun does not append it again (restore_journal.go).

// settleTime is how long a killed run's server session is given to commit
// the APPENDs it had received.
var settleTime = 1500 * time.Millisecond

// dedupeOff disables the post-pass (tests show what it prevents).
var dedupeOff = false

// dedupeRemoved counts the duplicates removed in this process (tests report it).
var dedupeRemoved atomic.Int64

// dupKey groups destination messages that may be copies of one item.
type dupKey struct {
	id   string // Message-Id, or "" with size and date
	size int64
	date int64
}

// recordAppend notes a successful APPEND's APPENDUID.
func (rs *restorer) recordAppend(code string) {
	v, uids, ok := parseAppendUID(code)
	if !ok || rs.jr == nil {
		return
	}
	for _, u := range uids {
		rs.appended[u] = true
	}
	_ = rs.jr.add(v, uids) // a lost line only means fewer removals
}

// loadJournal (re)loads the journal for the selected folder. When an earlier
// run left it (a clean end removes it), the restore first waits until
// settleTime has passed since that run last sent an APPEND, so that the
// server has committed whatever the run had sent before it is indexed.
func (rs *restorer) loadJournal(ctx context.Context, c *wconn, dest string, sel selected) error {
	if rs.jr != nil && rs.jr.validity == sel.uidValidity {
		return nil
	}
	dir := rs.cfg.RestoreJournalDir
	if rs.t.Policy == sources.PolicyCopy {
		dir = "" // copies are wanted: nothing to remove, no one to wait for
	}
	rs.jr = openJournal(dir, rs.user.Email, dest, sel.uidValidity)
	if rs.jr.mtime.IsZero() || dedupeOff {
		return nil
	}
	wait := time.Until(rs.jr.mtime.Add(settleTime + touchEvery))
	if wait <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
	}
	return c.simple("NOOP") // see what the other session committed
}

// dedupe is the post-pass: it removes the restore-created copies beyond
// what the items need, under the rules above.
func (rs *restorer) dedupe(c *wconn) error {
	if dedupeOff {
		return nil
	}
	if rs.t.Policy == sources.PolicyCopy || len(rs.jr.uids) == 0 || !c.hasCap("UIDPLUS") {
		rs.jr.clear()
		return nil
	}
	need, groups, err := rs.dupGroups(c)
	if err != nil {
		return fmt.Errorf("duplicate check: %w", err)
	}
	var hashed []*destMsg
	for k, g := range groups {
		if len(g) > need[k] && rs.anyJournaled(g) {
			hashed = append(hashed, g...)
		}
	}
	if len(hashed) == 0 {
		rs.jr.clear()
		return nil
	}
	if err := hashBodies(c, hashed); err != nil {
		return fmt.Errorf("duplicate check: %w", err)
	}
	var remove []uint32
	for k, g := range groups {
		if len(g) > need[k] {
			remove = append(remove, rs.extras(g, need[k])...)
		}
	}
	if err := rs.expunge(c, remove); err != nil {
		return fmt.Errorf("remove %d duplicates this restore created: %w", len(remove), err)
	}
	rs.jr.clear()
	return nil
}

func (rs *restorer) anyJournaled(g []*destMsg) bool {
	for _, d := range g {
		if rs.jr.uids[d.uid] {
			return true
		}
	}
	return false
}

// itemKeys are the keys an item's copies can have (two sizes may be known).
func (rs *restorer) itemKeys(i int) []dupKey {
	m, it := rs.metas[i], rs.items[i]
	if m.MessageID != "" {
		return []dupKey{{id: m.MessageID}}
	}
	keys := []dupKey{{size: it.Size, date: itemDate(m)}}
	if m.Size > 0 && m.Size != it.Size {
		keys = append(keys, dupKey{size: m.Size, date: itemDate(m)})
	}
	return keys
}

// dupGroups indexes the whole folder by key: need is how many items each key
// has, groups the destination messages under keys some item has.
func (rs *restorer) dupGroups(c *wconn) (map[dupKey]int, map[dupKey][]*destMsg, error) {
	need := map[dupKey]int{}
	for i := range rs.items {
		for _, k := range rs.itemKeys(i) {
			need[k]++
		}
	}
	groups := map[dupKey][]*destMsg{}
	tag, err := c.command("UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE ENVELOPE)")
	if err != nil {
		return nil, nil, err
	}
	_, err = c.wait(tag, func(r *resp) error {
		f := r.fetch
		if r.kind != "FETCH" || f == nil || f.uid == 0 || !f.env || f.size < 0 {
			return nil
		}
		k := dupKey{id: f.msgID}
		if k.id == "" {
			k = dupKey{size: f.size, date: f.date.Unix()}
		}
		if need[k] > 0 {
			groups[k] = append(groups[k], &destMsg{uid: f.uid, size: f.size, date: f.date.Unix()})
		}
		return nil
	})
	return need, groups, err
}

// extras picks, among copies g of one key, the journaled messages beyond
// what the items need, per content hash: of n identical copies, at most
// n - max(1, items with that hash) go, and only journaled ones.
func (rs *restorer) extras(g []*destMsg, need int) []uint32 {
	items := map[string]int{}
	for i := range rs.items {
		items[rs.items[i].Hash]++
	}
	byHash := map[string][]*destMsg{}
	for _, d := range g {
		if d.hash != "" {
			byHash[d.hash] = append(byHash[d.hash], d)
		}
	}
	var out []uint32
	for h, copies := range byHash {
		keep := items[h]
		if keep == 0 { // the server changed the bytes: keep as many as the key needs
			keep = need
		}
		keep = max(keep, 1)
		sort.Slice(copies, func(a, b int) bool { return copies[a].uid > copies[b].uid })
		left := len(copies)
		for _, d := range copies {
			if left <= keep {
				break
			}
			if rs.jr.uids[d.uid] {
				out = append(out, d.uid)
				left--
			}
		}
	}
	return out
}

// expunge removes exactly uids: flag them \Deleted, then UID EXPUNGE them.
func (rs *restorer) expunge(c *wconn, uids []uint32) error {
	sort.Slice(uids, func(a, b int) bool { return uids[a] < uids[b] })
	for start := 0; start < len(uids); start += maxSetUIDs {
		part := uids[start:min(start+maxSetUIDs, len(uids))]
		set := uidSetString(part)
		if err := c.simple("UID STORE " + set + ` +FLAGS.SILENT (\Deleted)`); err != nil {
			return err
		}
		if err := c.simple("UID EXPUNGE " + set); err != nil {
			return err
		}
		for _, u := range part {
			if rs.appended[u] && rs.written > 0 {
				rs.written--
			}
		}
		rs.removed += len(part)
		dedupeRemoved.Add(int64(len(part)))
	}
	return nil
}
