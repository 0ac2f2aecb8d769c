package mail

import (
	"sort"

	"github.com/emersion/go-imap/v2"
)

// uidIter hands out the UIDs of a static UID set in ascending order, a batch
// at a time, without expanding the whole set.
type uidIter struct {
	set  imap.UIDSet
	i    int
	next imap.UID
}

func (it *uidIter) take(n int) []imap.UID {
	var out []imap.UID
	for len(out) < n && it.i < len(it.set) {
		r := it.set[it.i]
		if r.Stop == 0 || r.Start == 0 || r.Stop < r.Start { // "*" cannot come from SEARCH
			it.i++
			continue
		}
		if it.next < r.Start {
			it.next = r.Start
		}
		if it.next > r.Stop {
			it.i++
			continue
		}
		out = append(out, it.next)
		if it.next == r.Stop {
			it.i++
		} else {
			it.next++
		}
	}
	return out
}

// above returns the UIDs of set greater than last. UID SEARCH and FETCH of
// "n:*" always include the highest UID of the folder, even when it is lower
// than n, so results for "last+1:*" must be filtered.
func above(set imap.UIDSet, last uint32) imap.UIDSet {
	var out imap.UIDSet
	for _, r := range set {
		start, stop := r.Start, r.Stop
		if stop == 0 || start == 0 {
			continue
		}
		if stop < start {
			start, stop = stop, start
		}
		if uint32(stop) <= last {
			continue
		}
		if uint32(start) <= last {
			start = imap.UID(last + 1)
		}
		out.AddRange(start, stop)
	}
	return out
}

// countUIDs is the number of UIDs in a static set.
func countUIDs(set imap.UIDSet) int {
	n := 0
	for _, r := range set {
		if r.Start != 0 && r.Stop >= r.Start {
			n += int(r.Stop-r.Start) + 1
		}
	}
	return n
}

func sortedUIDs(m map[imap.UID]error) []imap.UID {
	out := make([]imap.UID, 0, len(m))
	for uid := range m {
		out = append(out, uid)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
