package demo

import (
	"context"
	"fmt"
	"io"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/orgview"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// expectedOrg reads the organization from the emulator now, as the org
// source stores it, into "source container" → hash → count.
func (w *world) expectedOrg(ctx context.Context) (map[string]map[string]int, error) {
	st := sourcetest.New()
	if err := w.orgSrc[0].Backup(ctx, backup.OrgUser(), nil, st); err != nil {
		return nil, fmt.Errorf("demo: read the organization: %w", err)
	}
	if len(st.Failures) > 0 {
		return nil, fmt.Errorf("demo: read the organization: %v", st.Failures)
	}
	want := map[string]map[string]int{}
	for _, kind := range st.Containers() {
		m := map[string]int{}
		for _, it := range st.Items(kind) {
			m[it.Hash]++
		}
		if len(m) > 0 {
			want["org "+kind] = m
		}
	}
	return want, nil
}

var _ sources.Source = (*org.Source)(nil)

// printOrg prints the organization's part of a snapshot: objects stored and
// what could not be backed up (shared and blocked mailboxes need a delegate).
func printOrg(out io.Writer, s *backup.Snapshot) {
	for _, u := range s.Users {
		ss := u.Sources["org"]
		if u.ID != backup.OrgUserID || u.Carried || ss == nil || ss.Carried {
			continue
		}
		fmt.Fprintf(out, "  %-24s org %d new or changed/%d gone across %d object kinds (users, groups, mailboxes, rules...)\n",
			"(organization)", ss.Stats.Items, ss.Stats.Deleted, len(ss.Containers))
		for _, sk := range ss.Skips {
			fmt.Fprintln(out, "    "+sk)
		}
		for _, f := range ss.Failures {
			fmt.Fprintln(out, "    failed:", f)
		}
	}
}

// changeOrg moves dave into the Managers group and carol into Sales.
func (w *world) changeOrg() string {
	w.emu.UpdateOrg(func(d *y360emu.OrgData) {
		for i := range d.Groups {
			if d.Groups[i].Name == "Managers" {
				d.Groups[i].Members = append(d.Groups[i].Members, y360emu.Member{Type: "user", ID: "1130000000000004"})
			}
		}
		d.UserDepartments["1130000000000003"] = 2
	})
	return "dave joined the Managers group, carol moved to Sales"
}

// showOrgDiff prints `y360backup org diff` between two snapshots.
func showOrgDiff(ctx context.Context, out io.Writer, repo *backup.Repository, a, b *backup.Snapshot) error {
	var states [2]*org.State
	for i, s := range []*backup.Snapshot{a, b} {
		full, err := repo.FindSnapshot(ctx, s.ID)
		if err != nil {
			return err
		}
		st, problems, err := orgview.Load(ctx, repo, full)
		if err != nil {
			return err
		}
		for _, p := range problems {
			fmt.Fprintln(out, "  WARNING:", p)
		}
		states[i] = st
	}
	fmt.Fprintf(out, "\n== Organization: y360backup org diff %s %s\n", a.ID, b.ID)
	return org.WriteDiff(out, org.Diff(states[0], states[1]))
}
