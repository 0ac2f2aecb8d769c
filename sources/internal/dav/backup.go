package dav

import (
	"context"
	"errors"
	"fmt"

	"github.com/y360backup/y360backup/sources"
)

// Named is a discovered collection as the per-collection loop sees it.
type Named struct {
	Name        string // the container name
	DisplayName string
}

// BackupCollections is the per-user loop both DAV sources share: each
// selected collection is backed up by backup; one that fails is recorded
// with st.Fail and the rest go on, except that ctx's end and a refused token
// (sources.ErrUnauthorized) end the user. Containers whose collection is
// gone at the source are removed; excluded collections still count as
// present (an exclusion stops backing one up, it does not mark it deleted).
// source and kind name them in errors ("calendar", "collection").
func BackupCollections(ctx context.Context, st sources.Store, source, kind, email string, cols []Named,
	selected func(name, display string) bool, backup func(i int) error) error {
	seen := map[string]bool{}
	for i, c := range cols {
		seen[c.Name] = true
		if !selected(c.Name, c.DisplayName) {
			st.Skip(c.Name, "excluded by config")
			continue
		}
		if err := backup(i); err != nil {
			if ctx.Err() != nil || errors.Is(err, sources.ErrUnauthorized) {
				return fmt.Errorf("%s: user %s: %w", source, email, err)
			}
			st.Fail(c.Name, err)
		}
	}
	for _, name := range st.Containers() {
		if !seen[name] {
			if err := st.Remove(ctx, name); err != nil {
				return fmt.Errorf("%s: user %s: remove %s %s: %w", source, email, kind, name, err)
			}
		}
	}
	return nil
}
