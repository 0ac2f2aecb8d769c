package dav

import (
	"context"
	"fmt"
	"net/http"
)

// Coll is a collection as the member listings need it.
type Coll struct {
	Name string // container name, for messages
	Href string // as the server sent it
	Path string // decoded path ("/a/b/"), for matching member hrefs
}

// Member is one object the server lists (or reports changed) in a collection.
type Member struct {
	ID   string // href path relative to the collection
	Href string // as the server sent it
	ETag string // "" when the server did not say
}

// MaxSyncRounds bounds the follow-up REPORTs for a truncated (507) sync answer.
const MaxSyncRounds = 1000

// ListMembers lists every object of a collection with its etag (one
// PROPFIND Depth 1, streamed), keyed by member ID.
func (c *Client) ListMembers(ctx context.Context, col Coll) (map[string]Member, error) {
	listed := map[string]Member{}
	_, err := c.Multistatus(ctx, "PROPFIND", col.Href, "1", []byte(PropfindETags), func(r *Response) error {
		m, ok, err := col.Member(r)
		if err != nil || !ok || r.Has(NameResourceType, NameCollection) {
			return err
		}
		if r.Status != 0 && r.Status/100 != 2 {
			return nil
		}
		listed[m.ID] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", col.Name, err)
	}
	return listed, nil
}

// SyncChanges asks for what changed since token (RFC 6578), following
// truncated answers (507 on the collection itself) until complete. It
// returns changed members, deleted IDs (both sorted) and the new token.
func (c *Client) SyncChanges(ctx context.Context, col Coll, token string) ([]Member, []string, string, error) {
	changed := map[string]Member{}
	deleted := map[string]bool{}
	for round := 0; ; round++ {
		if round == MaxSyncRounds {
			return nil, nil, "", fmt.Errorf("sync %s: still truncated after %d rounds", col.Name, round)
		}
		truncated := false
		next, err := c.SyncCollection(ctx, col.Href, token, func(r *Response) error {
			if p, err := HrefPath(r.Hrefs[0]); err == nil && CleanDir(p) == col.Path {
				truncated = r.Status == http.StatusInsufficientStorage
				return nil
			}
			m, ok, err := col.Member(r)
			if err != nil || !ok || r.Has(NameResourceType, NameCollection) {
				return err
			}
			if r.Status == http.StatusNotFound {
				deleted[m.ID] = true
				delete(changed, m.ID)
			} else {
				changed[m.ID] = m
				delete(deleted, m.ID)
			}
			return nil
		})
		if err != nil {
			return nil, nil, "", fmt.Errorf("sync %s: %w", col.Name, err)
		}
		if next == "" {
			return nil, nil, "", fmt.Errorf("sync %s: %w: answer has no new sync-token", col.Name, ErrInvalidSyncToken)
		}
		token = next
		if !truncated {
			break
		}
	}
	out := make([]Member, 0, len(changed))
	for _, id := range SortedKeys(changed) {
		out = append(out, changed[id])
	}
	return out, SortedKeys(deleted), token, nil
}

// Member maps a multistatus response to a collection member. ok is false
// for the collection itself.
func (col Coll) Member(r *Response) (Member, bool, error) {
	p, err := HrefPath(r.Hrefs[0])
	if err != nil {
		return Member{}, false, err
	}
	if CleanDir(p) == col.Path {
		return Member{}, false, nil
	}
	id, ok := RelName(col.Path, p)
	if !ok {
		return Member{}, false, fmt.Errorf("member %s is outside the collection %s", p, col.Path)
	}
	return Member{ID: id, Href: r.Hrefs[0], ETag: r.Text(NameGetETag)}, true, nil
}
