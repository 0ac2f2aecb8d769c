// Package orgview reads the organization's objects (sources/org) out of a
// snapshot, for `y360backup org diff` and `org plan-restore`: it loads the
// org pseudo-user's containers and hands each stored object to an
// org.State. Memory follows the org's size (users, groups, departments).
package orgview

import (
	"context"
	"fmt"
	"io"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sources/org"
)

// maxObject bounds one stored org object read back (the source stores at most 4 MiB).
const maxObject = 8 << 20

// kinds State uses; the other containers are not read.
var stateKinds = []string{org.KindUsers, org.KindDepartments, org.KindGroups, org.KindGroupMembers, org.KindRoutingRules,
	org.KindActors, org.KindShared}

// Load returns the organization's state as of snap. An object that cannot
// be read or parsed is reported in problems and left out; the state is
// still usable. A snapshot without an org backup is an error that says so.
func Load(ctx context.Context, repo *backup.Repository, snap *backup.Snapshot) (st *org.State, problems []string, err error) {
	if !HasOrg(snap) {
		return nil, nil, fmt.Errorf("snapshot %s holds no organization backup: enable sources.org and run a backup", snap.ID)
	}
	st = org.NewState()
	sel := backup.Selection{Users: []string{backup.OrgUserID}, Sources: []string{"org"}, Containers: stateKinds}
	err = repo.Select(ctx, snap, sel, func(sc backup.SelectedContainer) error {
		for _, it := range sc.Items {
			raw, err := readObject(ctx, repo, it.Hash)
			if err == nil {
				err = st.Add(sc.Head.Name, it.ID, raw)
			}
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				problems = append(problems, fmt.Sprintf("%s %s: %v", sc.Head.Name, it.ID, err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, problems, fmt.Errorf("snapshot %s: read organization: %w", snap.ID, err)
	}
	return st, problems, nil
}

// HasOrg reports whether snap holds the organization's pseudo-user.
func HasOrg(snap *backup.Snapshot) bool {
	for _, u := range snap.Users {
		if u.ID == backup.OrgUserID {
			return u.Sources["org"] != nil
		}
	}
	return false
}

func readObject(ctx context.Context, repo *backup.Repository, hash string) ([]byte, error) {
	rc, err := repo.OpenObject(ctx, hash)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxObject+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxObject {
		return nil, fmt.Errorf("stored object larger than %d bytes", maxObject)
	}
	return b, nil
}
