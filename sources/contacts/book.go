package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/internal/dav"
)

// cursor is the per-book resume state committed with each segment. CTag
// and SyncToken describe the book as of the last COMPLETE pass; commits in
// the middle of a pass carry CTag "" so a cut-short run looks again.
type cursor struct {
	CTag        string `json:"ctag,omitempty"`
	SyncToken   string `json:"sync_token,omitempty"`
	DisplayName string `json:"displayname,omitempty"`
	Href        string `json:"href,omitempty"`
}

// itemMeta is Item.Meta for one vCard.
type itemMeta struct {
	Href string `json:"href"`
	ETag string `json:"etag,omitempty"`
	UID  string `json:"uid,omitempty"`
	// Malformed marks bytes without a BEGIN:VCARD … END:VCARD frame; they
	// are stored as served all the same.
	Malformed bool `json:"malformed,omitempty"`
}

// backupBook runs one incremental pass over one address book.
func (s *session) backupBook(ctx context.Context, b book) error {
	c, err := s.st.Open(ctx, b.Name)
	if err != nil {
		return fmt.Errorf("contacts: open %s: %w", b.Name, err)
	}
	defer c.Close()
	var prev cursor
	if raw := c.Cursor(); len(raw) > 0 && json.Unmarshal(raw, &prev) != nil {
		prev = cursor{} // unreadable: a full listing, nothing else lost
	}
	next := cursor{CTag: b.CTag, SyncToken: b.SyncToken, DisplayName: b.DisplayName, Href: b.Href}
	if prev.CTag != "" && prev.CTag == b.CTag {
		// Unchanged since the last complete pass: no request at all.
		next.SyncToken = prev.SyncToken
		return s.commit(ctx, c, next)
	}
	mid := next
	mid.CTag, mid.SyncToken = "", prev.SyncToken

	changed, deleted, tok, err := s.changes(ctx, b, c, prev.SyncToken)
	if err != nil {
		return err
	}
	if tok != "" {
		next.SyncToken = tok
	}
	for _, id := range deleted {
		if _, ok := c.Get(id); ok {
			c.Delete(id)
		}
	}
	failed, err := s.fetch(ctx, b, c, changed, mid)
	if err != nil {
		return err
	}
	if failed > 0 {
		next.CTag, next.SyncToken = "", mid.SyncToken // retry next run
	}
	return s.commit(ctx, c, next)
}

func (s *session) commit(ctx context.Context, c sources.Container, cur cursor) error {
	if err := c.Commit(ctx, cur); err != nil {
		return fmt.Errorf("contacts: commit %s: %w", c.Name(), err)
	}
	return nil
}

// changes returns the members to look at (fetch skips unchanged etags), the
// IDs gone since the last pass and, after a sync-collection, the new token.
func (s *session) changes(ctx context.Context, b book, c sources.Container, token string) ([]dav.Member, []string, string, error) {
	if s.cfg.Listing != ListOpLs && b.CanSync && token != "" {
		changed, deleted, tok, err := s.dav.SyncChanges(ctx, b.Coll, token)
		if err == nil || !errors.Is(err, dav.ErrInvalidSyncToken) || ctx.Err() != nil {
			return changed, deleted, tok, err
		}
		// The server forgot the token: fall back to a full listing.
	}
	listed, err := s.listBook(ctx, b)
	if err != nil {
		return nil, nil, "", err
	}
	var deleted []string
	c.Range(func(it sources.Item) bool {
		if _, ok := listed[it.ID]; !ok {
			deleted = append(deleted, it.ID)
		}
		return true
	})
	out := make([]dav.Member, 0, len(listed))
	for _, id := range dav.SortedKeys(listed) {
		out = append(out, listed[id])
	}
	return out, deleted, "", nil
}

// listBook lists every card of a book with its etag, the configured way.
func (s *session) listBook(ctx context.Context, b book) (map[string]dav.Member, error) {
	if s.cfg.Listing == ListOpLs {
		return s.listOpLs(ctx, b)
	}
	return s.dav.ListMembers(ctx, b.Coll)
}
