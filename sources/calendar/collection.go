package calendar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/y360backup/y360backup/sources"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// cursor is the per-collection resume state committed with each segment.
//
// CTag and SyncToken describe the collection as of the last COMPLETE pass;
// commits made in the middle of a pass carry CTag "" and the previous pass's
// SyncToken, so a run cut short re-examines the collection next time (and,
// comparing etags, fetches only what it had not committed).
type cursor struct {
	CTag        string   `json:"ctag,omitempty"`
	SyncToken   string   `json:"sync_token,omitempty"`
	DisplayName string   `json:"displayname,omitempty"`
	Color       string   `json:"color,omitempty"`
	Components  []string `json:"components,omitempty"`
	Href        string   `json:"href,omitempty"` // collection href, for restore
}

// itemMeta is Item.Meta for a calendar object.
type itemMeta struct {
	Href      string `json:"href"`
	ETag      string `json:"etag,omitempty"`
	UID       string `json:"uid,omitempty"`
	Component string `json:"component,omitempty"` // VEVENT, VTODO, ...
	// Malformed marks bytes that do not look like an iCalendar object. They
	// are stored anyway (we never parse or rewrite what the server sent).
	Malformed bool `json:"malformed,omitempty"`
}

// member is one object the server lists (or reports changed) in a collection.
type member = dav.Member

func (s *session) backupCollection(ctx context.Context, col collection) error {
	c, err := s.st.Open(ctx, col.Name)
	if err != nil {
		return fmt.Errorf("calendar: open %s: %w", col.Name, err)
	}
	defer c.Close()

	var prev cursor
	if raw := c.Cursor(); len(raw) > 0 {
		if json.Unmarshal(raw, &prev) != nil {
			prev = cursor{} // unreadable: do a full listing, nothing else is lost
		}
	}
	next := cursor{
		CTag: col.CTag, SyncToken: col.SyncToken,
		DisplayName: col.DisplayName, Color: col.Color, Components: col.Components, Href: col.Href,
	}
	if prev.CTag != "" && prev.CTag == col.CTag {
		// Unchanged since the last complete pass: no request at all. The
		// commit writes a segment only if name/color/components changed.
		next.SyncToken = prev.SyncToken
		if err := c.Commit(ctx, next); err != nil {
			return fmt.Errorf("calendar: commit %s: %w", col.Name, err)
		}
		return nil
	}
	mid := next
	mid.CTag, mid.SyncToken = "", prev.SyncToken

	var changed []member
	var deleted []string
	synced := false
	if col.CanSync && prev.SyncToken != "" {
		var tok string
		changed, deleted, tok, err = s.dav.SyncChanges(ctx, col.coll(), prev.SyncToken)
		switch {
		case err == nil:
			synced = true
			if tok != "" {
				next.SyncToken = tok
			}
		case errors.Is(err, dav.ErrInvalidSyncToken) && ctx.Err() == nil:
			mid.SyncToken = "" // fall back to a listing below
		default:
			return err
		}
	}
	if !synced {
		if changed, deleted, err = s.listChanges(ctx, col, c); err != nil {
			return err
		}
	}
	for _, id := range deleted {
		if _, ok := c.Get(id); ok {
			c.Delete(id)
		}
	}
	failed, err := s.fetch(ctx, col, c, changed, mid)
	if err != nil {
		return err
	}
	if failed > 0 {
		// Keep the collection "dirty" so the next run retries the failures.
		next.CTag, next.SyncToken = "", mid.SyncToken
	}
	if err := c.Commit(ctx, next); err != nil {
		return fmt.Errorf("calendar: commit %s: %w", col.Name, err)
	}
	return nil
}

// listChanges lists every member with its etag (PROPFIND Depth 1) and
// returns all of them as candidates (fetch skips unchanged etags) plus the
// IDs the container has but the server no longer lists.
func (s *session) listChanges(ctx context.Context, col collection, c sources.Container) ([]member, []string, error) {
	listed, err := s.dav.ListMembers(ctx, col.coll())
	if err != nil {
		return nil, nil, err
	}
	var deleted []string
	c.Range(func(it sources.Item) bool {
		if _, ok := listed[it.ID]; !ok {
			deleted = append(deleted, it.ID)
		}
		return true
	})
	changed := make([]member, 0, len(listed))
	for _, id := range dav.SortedKeys(listed) {
		changed = append(changed, listed[id])
	}
	return changed, deleted, nil
}

// coll is the collection as the shared member listings see it.
func (col collection) coll() dav.Coll {
	return dav.Coll{Name: col.Name, Href: col.Href, Path: col.Path}
}
