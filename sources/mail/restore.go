package mail

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/y360backup/y360backup/sources"
)

var _ sources.Restorer = (*Source)(nil)

// RestoreContainer implements sources.Restorer: it APPENDs the items (the
// messages of one backed-up folder) to the user's mailbox with their stored
// bytes, original flags and INTERNALDATE, and returns how many it wrote.
//
// The destination is t.Original in place, or t.Under + delimiter + t.Original
// (see restore_dest.go); missing folders are created level by level.
//
// Before appending, the destination is indexed (restore_index.go): a message
// is "already there" when a message with the same Message-Id and size is, or,
// for messages without a Message-Id, one with the same size, INTERNALDATE and
// content hash. Policies:
//   - skip (default): what is already there is left alone; a restore cut off
//     halfway and run again appends nothing twice.
//   - copy: every item is appended, present or not.
//   - replace: a message already there keeps its bytes (they are equal) and
//     gets the backed-up flags (UID STORE) when its flags differ; a Message-Id
//     match with another size is a different message and is appended.
//
// A message the server refuses (APPEND NO, e.g. too big) or whose stored body
// cannot be read goes to fail and the restore continues. A dropped connection
// is re-established (a fresh login, indexing again makes this safe) as long as
// the restore makes progress; a refused token is invalidated and retried
// once. The error return is for the container as a whole.
func (s *Source) RestoreContainer(ctx context.Context, u sources.User, tok sources.TokenSource, t sources.RestoreTarget,
	items []sources.RestoreItem, fail func(item string, err error)) (int, error) {
	if t.Policy == "" {
		t.Policy = sources.PolicySkip
	}
	switch t.Policy {
	case sources.PolicySkip, sources.PolicyCopy, sources.PolicyReplace:
	default:
		return 0, fmt.Errorf("mail: restore %q: unknown collision policy %q", t.Original, t.Policy)
	}
	if u.Email == "" {
		return 0, fmt.Errorf("mail: restore %q: user %s has no email address", t.Original, u.ID)
	}
	rs := newRestorer(s, u, tok, t, items, fail)
	if err := rs.run(ctx); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return rs.written, fmt.Errorf("mail: restore %q for %s: %w", t.Original, u.Email, err)
	}
	return rs.written, nil
}

// restorer is one RestoreContainer call. Its state survives reconnects: done
// items are never looked at again.
type restorer struct {
	src  *Source
	cfg  Config
	user sources.User
	tok  sources.TokenSource
	t    sources.RestoreTarget
	fail func(string, error)

	items []sources.RestoreItem
	metas []meta
	order []int  // item indexes by (UIDVALIDITY, UID): APPENDs keep the original order
	done  []bool // written, found present, or failed
	// uncertain: the APPEND was sent but the connection dropped before its
	// answer. Under the copy policy such an item is appended again only if
	// the destination does not hold it.
	uncertain []bool
	left      int
	written   int

	// The duplicate post-pass (restore_dedupe.go).
	jr       *journal
	appended map[uint32]bool // UIDs this call's APPENDs got
	removed  int             // duplicates the post-pass removed
}

func newRestorer(s *Source, u sources.User, tok sources.TokenSource, t sources.RestoreTarget,
	items []sources.RestoreItem, fail func(string, error)) *restorer {
	rs := &restorer{src: s, cfg: s.cfg, user: u, tok: tok, t: t, fail: fail, items: items,
		metas: make([]meta, len(items)), done: make([]bool, len(items)), uncertain: make([]bool, len(items)), left: len(items),
		appended: map[uint32]bool{}}
	for i, it := range items {
		if m, err := decodeMeta(it.Meta); err == nil {
			rs.metas[i] = m
		}
		rs.order = append(rs.order, i)
	}
	// The engine sorts IDs as strings ("7/10" before "7/2"); messages are
	// appended in their original UID order, so that the restored folder's
	// arrival order (what clients show unsorted) is the original one.
	sort.SliceStable(rs.order, func(a, b int) bool {
		va, ua, oka := parseItemID(items[rs.order[a]].ID)
		vb, ub, okb := parseItemID(items[rs.order[b]].ID)
		switch {
		case !oka || !okb:
			return oka && !okb
		case va != vb:
			return va < vb
		}
		return ua < ub
	})
	return rs
}

// settle marks item i finished.
func (rs *restorer) settle(i int, wrote bool) {
	if rs.done[i] {
		return
	}
	rs.done[i] = true
	rs.left--
	if wrote {
		rs.written++
	}
}

// failItem reports item i as failed and settles it.
func (rs *restorer) failItem(i int, err error) {
	rs.fail(rs.items[i].ID, err)
	rs.settle(i, false)
}

// uncertainWait is how long a restore waits before reconnecting when
// APPENDs were in flight as the connection dropped: the server may still be
// processing what it had received on the old connection, and indexing the
// folder before it has would append those messages a second time.
const uncertainWait = time.Second

// run restores until every item is settled. A lost connection is
// re-established while each attempt makes progress; maxReconnects attempts in
// a row without progress give up.
func (rs *restorer) run(ctx context.Context) error {
	if rs.left == 0 {
		return nil
	}
	for drops := 0; ; {
		before := rs.left
		err := rs.once(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !isConnErr(err) {
			return err
		}
		if rs.left < before {
			drops = 0
		} else if drops++; drops > maxReconnects {
			return err
		}
		wait := time.Duration(drops) * 200 * time.Millisecond
		if slices.Contains(rs.uncertain, true) {
			wait = max(wait, uncertainWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// once is one connection's worth of restore: log in, find or create the
// destination, index it, then write what is missing.
func (rs *restorer) once(ctx context.Context) error {
	c, err := rs.connect(ctx)
	if err != nil {
		return err
	}
	defer c.logout()
	dest, err := rs.destination(c)
	if err != nil {
		return fmt.Errorf("destination folder: %w", err)
	}
	sel, err := c.selectBox(dest)
	if err != nil {
		return fmt.Errorf("SELECT %q: %w", printable(dest, 200), err)
	}
	if err := rs.loadJournal(ctx, c, dest, sel); err != nil {
		return err
	}
	p, err := rs.plan(c, sel)
	if err != nil {
		return err
	}
	if err := rs.storeFlags(c, p.stores); err != nil {
		return err
	}
	if err := rs.appendAll(ctx, c, dest, sel.perm, p.appends); err != nil {
		return err
	}
	return rs.dedupe(c)
}

// connect logs in (with LIST) for the restore; a refused token is invalidated
// and one fresh token tried.
func (rs *restorer) connect(ctx context.Context) (*wconn, error) {
	var c *wconn
	err := withToken(ctx, rs.cfg, rs.tok, "mail:imap_full (restore writes)", func(token string) error {
		return dialRetry(ctx, func() error {
			var err error
			c, err = dialWire(ctx, rs.cfg, rs.user.Email, token, rs.src.wrapConn)
			return err
		})
	})
	return c, err
}
