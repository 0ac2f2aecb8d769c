package backup

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// orgNamed runs a fakeSource under the name "org" (the organization source).
type orgNamed struct{ *fakeSource }

func (orgNamed) Name() string { return "org" }

// failing fails as a whole, like an org source whose admin token is refused.
type failing struct{}

func (failing) Name() string { return "org" }
func (failing) Backup(context.Context, sources.User, sources.TokenSource, sources.Store) error {
	return errors.New("org: admin token refused")
}

func TestOrgPseudoUser(t *testing.T) {
	r, _ := testRepo(t)
	us := users{{ID: "1", Email: "a@x.test", Enabled: true}}
	data := map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "mail"}},
		OrgUserID:  {"groups": {"7": `{"id":7,"name":"G"}`}},
	}
	opts := RunOptions{Users: us, Sources: []sources.Source{&fakeSource{data: data}},
		OrgSources: []sources.Source{orgNamed{&fakeSource{data: data}}},
		Tokens:     func(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{} }}
	ctx := context.Background()
	done := 0
	opts.OnUserDone = func(UserSnapshot) { done++ }
	snap, err := r.Backup(ctx, opts)
	if err != nil || snap.Status != StatusOK {
		t.Fatalf("backup: %v %+v", err, snap)
	}
	if snap.UsersOK != 1 || done != 1 {
		t.Errorf("users ok %d, OnUserDone %d: the organization must not count as a user", snap.UsersOK, done)
	}
	var got []string
	err = r.Select(ctx, snap, Selection{Users: []string{OrgUserID}}, func(sc SelectedContainer) error {
		got = append(got, sc.Source+"/"+sc.Head.Name)
		return nil
	})
	if err != nil || strings.Join(got, ",") != "org/groups" {
		t.Errorf("org containers: %v %v", got, err)
	}

	// --user a@x.test: the org is left out and carried; --user org: only the org.
	opts.Only = []string{"a@x.test"}
	if snap, err = r.Backup(ctx, opts); err != nil || !carriedOrg(snap) {
		t.Errorf("a one-user run must carry the org: %v", err)
	}
	opts.Only = []string{OrgUserID}
	if snap, err = r.Backup(ctx, opts); err != nil || carriedOrg(snap) || snap.UsersOK != 0 {
		t.Errorf("--user org must back up only the org: %v %+v", err, snap)
	}

	// A restore of everything passes over the org; naming it is an error.
	rest := RestoreOptions{Snapshot: snap, Restorers: map[string]sources.Restorer{"fake": &fakeRestorer{written: map[string]string{}}},
		Tokens: func(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{} }}
	if _, err := r.Restore(ctx, rest); err != nil {
		t.Errorf("restore of everything: %v", err)
	}
	rest.Selection.Users = []string{OrgUserID}
	if _, err := r.Restore(ctx, rest); err == nil || !strings.Contains(err.Error(), "plan-restore") {
		t.Errorf("restore of the org: %v, want a pointer to org plan-restore", err)
	}

	// A failed org makes the run partial, not failed, and counts no user.
	opts.Only, opts.OrgSources = nil, []sources.Source{failing{}}
	snap, err = r.Backup(ctx, opts)
	if err != nil || snap.Status != StatusPartial || snap.UsersFailed != 0 {
		t.Errorf("failed org: %v status %s users failed %d, want partial and 0", err, snap.Status, snap.UsersFailed)
	}
}

func carriedOrg(s *Snapshot) bool {
	for _, u := range s.Users {
		if u.ID == OrgUserID {
			return u.Carried
		}
	}
	return false
}
