package calendar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/y360backup/y360backup/sources"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// restoredSegment is the collection path segment a non-destructive restore
// of original under under writes to (see dav.RestoredSegment). Yandex names
// collections "events-<id>"/"todos-<id>"; ours never collide with those.
func restoredSegment(under, original string) string { return dav.RestoredSegment(under, original) }

// restoredDisplayName is the new collection's display name:
// "Restored 2026-11-25 12h00 — Работа".
func restoredDisplayName(under, original string) string {
	return under + " — " + original
}

// componentsOf is the component set a collection needs for these items
// (from the metadata the backup recorded); nil when none is known.
func componentsOf(items []sources.RestoreItem) []string {
	seen := map[string]bool{}
	for _, it := range items {
		if m := parseItemMeta(it.Meta); m.Component != "" && !m.Malformed {
			seen[m.Component] = true
		}
	}
	if len(seen) == 0 {
		return nil
	}
	return dav.SortedKeys(seen)
}

func parseItemMeta(raw json.RawMessage) itemMeta {
	var m itemMeta
	_ = json.Unmarshal(raw, &m) // unknown or missing metadata: restore the bytes anyway
	return m
}

// destination finds or creates the collection t restores into, below the
// user's calendar home. fresh reports that this call created it (so it is
// known to be empty).
//
// In place, it is the original collection path (recreated with MKCALENDAR
// when gone, with the display name, colour and components saved in the
// backup's cursor, t.State). Non-destructive, it is
// restoredSegment(Under, Original), named after Under and the original's
// display name (from the account if it still exists, else from t.State).
func (s *session) destination(ctx context.Context, home string, cols []collection, t sources.RestoreTarget, items []sources.RestoreItem) (col collection, fresh bool, err error) {
	var orig *collection
	for i := range cols {
		if cols[i].Name == t.Original {
			orig = &cols[i]
		}
	}
	seg := t.Original
	var saved cursor
	_ = json.Unmarshal(t.State, &saved) // absent or foreign state: fall back to names
	spec := calendarSpec{Components: componentsOf(items), DisplayName: saved.DisplayName, Color: saved.Color}
	if len(spec.Components) == 0 {
		spec.Components = saved.Components
	}
	if t.Under != "" {
		seg = restoredSegment(t.Under, t.Original)
		name := t.Original
		if saved.DisplayName != "" {
			name = saved.DisplayName
		}
		if orig != nil {
			if orig.DisplayName != "" {
				name = orig.DisplayName
			}
			spec.Color = orig.Color
		}
		spec.DisplayName = restoredDisplayName(t.Under, name)
	} else if orig != nil {
		return *orig, false, nil
	}
	for _, c := range cols {
		if c.Name == seg {
			return c, false, nil // a previous run's
		}
	}
	p := dav.CleanDir(home + seg)
	if err := mkcalendar(ctx, s.dav, dav.EscapePath(p), spec); err != nil {
		// Created meanwhile by a concurrent run? RFC 4791 says 403/405 with
		// DAV:resource-must-be-null; Radicale answers 409, go-webdav 405.
		var se *dav.StatusError
		if fatal(ctx, err) || !errors.As(err, &se) ||
			se.Code != http.StatusForbidden && se.Code != http.StatusMethodNotAllowed && se.Code != http.StatusConflict {
			return collection{}, false, fmt.Errorf("create calendar %s: %w", p, err)
		}
		c, ok, serr := s.statCollection(ctx, home, p)
		if serr != nil || !ok {
			return collection{}, false, fmt.Errorf("create calendar %s: %w", p, err)
		}
		return c, false, nil
	}
	return collection{
		Name: seg, Href: dav.EscapePath(p), Path: p,
		DisplayName: spec.DisplayName, Color: spec.Color, Components: slices.Clone(spec.Components),
	}, true, nil
}
