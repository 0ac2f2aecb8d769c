package mail

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/y360backup/y360backup/sources"
)

// folderSync is the state of one folder's backup within a run. It survives
// reconnects, so a retried syncOnce continues where the last one stopped.
type folderSync struct {
	r *run
	f folder
	c sources.Container

	cur       cursor // what Commit writes; consistent at every point
	hasCursor bool   // cur describes the container's items
	started   bool

	rematch   *rematchIndex // set after a UIDVALIDITY change until the folder is done
	flagsDone bool          // the flag/deletion pass of this run is complete
	oldQueued bool          // cur.Failed has been queued for batch retry
	// retry holds UIDs to fetch one by one at the end of the folder, with
	// the reason they failed in batch.
	retry map[imap.UID]error
}

func newFolderSync(r *run, f folder, c sources.Container) *folderSync {
	return &folderSync{r: r, f: f, c: c, retry: map[imap.UID]error{}}
}

// storeError is a failure of the Store; it ends the user's backup.
func storeErr(op string, err error) error {
	return &userError{fmt.Errorf("store: %s: %w", op, err)}
}

func (fs *folderSync) commit(ctx context.Context) error {
	if !fs.hasCursor {
		return nil
	}
	if err := fs.c.Commit(ctx, fs.cur.clone()); err != nil {
		return storeErr("commit", err)
	}
	return nil
}

func (fs *folderSync) commitIfDue(ctx context.Context) error {
	if fs.c.Due() {
		return fs.commit(ctx)
	}
	return nil
}

// adopt reconciles the cursor with the folder's UIDVALIDITY.
func (fs *folderSync) adopt(uidValidity uint32) {
	if !fs.started {
		fs.started = true
		fs.cur, fs.hasCursor = decodeCursor(fs.c.Cursor())
	}
	if fs.hasCursor && fs.cur.UIDValidity == uidValidity {
		return
	}
	if !fs.hasCursor && fs.c.Len() == 0 {
		fs.cur, fs.hasCursor = cursor{UIDValidity: uidValidity}, true
		return
	}
	// UIDVALIDITY changed (or items without a usable cursor): every item
	// is re-listed under a new ID, matched to the old bodies where possible.
	fs.rematch = buildRematch(fs.c, fs.rematch)
	fs.c.Reset()
	fs.cur, fs.hasCursor = cursor{UIDValidity: uidValidity}, true
	fs.flagsDone, fs.oldQueued = false, false
	fs.retry = map[imap.UID]error{}
}

// syncOnce runs the folder from its current state to the end.
func (fs *folderSync) syncOnce(ctx context.Context) error {
	s, err := fs.r.session(ctx)
	if err != nil {
		return err
	}
	condstore := s.caps.Has(imap.CapCondStore)
	sel, err := s.examine(fs.f.name, condstore)
	if err != nil {
		return fmt.Errorf("EXAMINE: %w", err)
	}
	if sel.UIDValidity == 0 {
		return errors.New("EXAMINE: server sent no UIDVALIDITY")
	}
	fs.adopt(sel.UIDValidity)
	var modseq uint64
	if condstore {
		modseq = sel.HighestModSeq
	}

	fresh, err := fs.newUIDs(s, sel)
	if err != nil {
		return err
	}
	if !fs.flagsDone {
		if fs.cur.LastUID > 0 {
			before := fs.cur.LastUID
			if err := fs.flagsPass(ctx, s, sel, modseq, countUIDs(fresh)); err != nil {
				return fmt.Errorf("flags: %w", err)
			}
			if fs.cur.LastUID != before { // rolled back: look again above it
				if fresh, err = fs.newUIDs(s, nil); err != nil {
					return err
				}
			}
		}
		fs.flagsDone = true
		fs.cur.HighestModSeq = modseq
	}
	if !fs.oldQueued {
		// Earlier failures (and messages the flag pass found missing) are
		// fetched in batches first; what fails again is retried one by one.
		var old imap.UIDSet
		for _, uid := range fs.cur.Failed {
			old.AddNum(imap.UID(uid))
		}
		if err := fs.fetchUIDs(ctx, s, old, false); err != nil {
			return err
		}
		fs.oldQueued = true
	}
	if err := fs.fetchUIDs(ctx, s, fresh, true); err != nil {
		return err
	}
	if err := fs.retryOneByOne(ctx, s); err != nil {
		return err
	}
	fs.rematch = nil
	return fs.commit(ctx)
}

// newUIDs lists UIDs above the cursor. An empty folder, or sel's UIDNEXT
// when known, saves the SEARCH for a folder without new mail.
func (fs *folderSync) newUIDs(s *session, sel *imap.SelectData) (imap.UIDSet, error) {
	last := fs.cur.LastUID
	if sel != nil && (sel.NumMessages == 0 || sel.UIDNext != 0 && uint32(sel.UIDNext) <= last+1) {
		return nil, nil
	}
	all, err := s.searchUIDs(imap.UIDSet{{Start: imap.UID(last + 1), Stop: 0}})
	if err != nil {
		return nil, fmt.Errorf("UID SEARCH: %w", err)
	}
	return above(all, last), nil
}

// flagsPass compares flags of UIDs 1..LastUID with the container and records
// changes and deletions. Without CONDSTORE it streams UID FETCH 1:last
// (FLAGS). With CONDSTORE and an unchanged message count, it asks only for
// messages changed since the cursor's HIGHESTMODSEQ, and skips the FETCH
// entirely when HIGHESTMODSEQ did not move.
func (fs *folderSync) flagsPass(ctx context.Context, s *session, sel *imap.SelectData, modseq uint64, newCount int) error {
	last := fs.cur.LastUID
	if sel.NumMessages == 0 { // everything was deleted; some servers refuse FETCH on an empty folder
		fs.dropUnseen(nil, last)
		return nil
	}
	full := true
	opts := &imap.FetchOptions{UID: true, Flags: true}
	if modseq > 0 && fs.cur.HighestModSeq > 0 {
		// The count check guards against servers that expunge without
		// raising HIGHESTMODSEQ: any deletion makes the counts differ.
		expected := fs.c.Len() + len(fs.cur.Failed) + newCount
		if int(sel.NumMessages) == expected {
			if modseq == fs.cur.HighestModSeq {
				return nil
			}
			full = false
			opts.ChangedSince = fs.cur.HighestModSeq
		}
	}

	s.dc.begin()
	defer s.dc.end()
	cmd := s.cl.Fetch(imap.UIDSet{{Start: 1, Stop: imap.UID(last)}}, opts)
	done, err := fs.compareFlags(ctx, s, cmd, last, full)
	if err != nil && !done {
		s.abandon(cmd)
	}
	return err
}

// compareFlags consumes the flag FETCH of flagsPass; done reports whether
// the command ran to its end.
func (fs *folderSync) compareFlags(ctx context.Context, s *session, cmd *imapclient.FetchCommand, last uint32, full bool) (done bool, err error) {
	uv := fs.cur.UIDValidity
	var seen imap.UIDSet
	var missing []imap.UID
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			return false, s.check(err)
		}
		uid := buf.UID
		if uid == 0 || uint32(uid) > last {
			continue
		}
		seen.AddNum(uid)
		id := itemID(uv, uid)
		it, ok := fs.c.Get(id)
		if !ok {
			if !fs.cur.isFailed(uid) {
				missing = append(missing, uid)
			}
			continue
		}
		m, err := decodeMeta(it.Meta)
		if err != nil {
			m = meta{UID: uint32(uid)}
		}
		if flags := canonicalFlags(buf.Flags); !equalFlags(flags, m.Flags) {
			m.Flags = flags
			fs.c.SetMeta(id, m.encode())
		}
		if err := fs.commitIfDue(ctx); err != nil {
			return false, err
		}
	}
	if err := s.check(cmd.Close()); err != nil {
		return true, err
	}
	if full {
		fs.dropUnseen(seen, last)
	}
	fs.recordMissing(missing)
	return true, nil
}

// dropUnseen deletes the items (and forgets the failed UIDs) up to last that
// the server did not list in seen: they were expunged.
func (fs *folderSync) dropUnseen(seen imap.UIDSet, last uint32) {
	uv := fs.cur.UIDValidity
	var gone []string
	fs.c.Range(func(it sources.Item) bool {
		v, uid, ok := parseItemID(it.ID)
		if !ok || v != uv || (uint32(uid) <= last && !seen.Contains(uid)) {
			gone = append(gone, it.ID)
		}
		return true
	})
	for _, id := range gone {
		fs.c.Delete(id)
	}
	for _, uid := range append([]uint32(nil), fs.cur.Failed...) {
		if !seen.Contains(imap.UID(uid)) {
			fs.cur.removeFailed(imap.UID(uid))
		}
	}
}

// recordMissing handles UIDs the server has below LastUID that the container
// lacks (a lost commit, a bug). A few are queued as failures to fetch again;
// many mean the cursor cannot be trusted, so it is rolled back to just below
// the first of them and everything above is listed again.
func (fs *folderSync) recordMissing(missing []imap.UID) {
	if len(missing) == 0 {
		return
	}
	if len(missing)+len(fs.cur.Failed) <= maxFailed {
		for _, uid := range missing {
			fs.cur.addFailed(uid)
		}
		return
	}
	low := missing[0]
	for _, uid := range missing {
		if uid < low {
			low = uid
		}
	}
	fs.cur.LastUID = uint32(low) - 1
	for _, uid := range append([]uint32(nil), fs.cur.Failed...) {
		if uid > fs.cur.LastUID {
			fs.cur.removeFailed(imap.UID(uid))
		}
	}
}

// deferRetry records a UID whose batch fetch failed: it enters the cursor's
// failure list at once (so the cursor may move past it) and is retried one by
// one at the end of the folder.
func (fs *folderSync) deferRetry(uid imap.UID, reason error) {
	fs.cur.addFailed(uid)
	if fs.retry[uid] == nil {
		fs.retry[uid] = reason
	}
}

// report tells the store about a message that could not be backed up.
func (fs *folderSync) report(uid imap.UID, err error) {
	fs.r.st.Fail(fmt.Sprintf("%s uid %d", fs.f.name, uid), err)
}
