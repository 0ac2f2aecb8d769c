package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
)

// snapshotFlags pick a point in time: --snapshot ID or --at TIME.
type snapshotFlags struct {
	snapshot string
	at       string
}

func (f *snapshotFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.snapshot, "snapshot", "latest", "snapshot ID (or unique prefix)")
	cmd.Flags().StringVar(&f.at, "at", "", "the newest snapshot at or before this time: a date means its end (2026-11-20), "+
		"a minute or second its end (2026-11-20 18:00), or the TIME column of `snapshots` exactly")
}

func (f *snapshotFlags) find(cmd *cobra.Command, repo *backup.Repository) (*backup.Snapshot, error) {
	if f.at != "" {
		t, err := parseAt(f.at)
		if err != nil {
			return nil, fmt.Errorf("%w: --at: %v", errUsage, err)
		}
		return repo.SnapshotAt(cmd.Context(), t)
	}
	return repo.FindSnapshot(cmd.Context(), f.snapshot)
}

// timeLayouts are the accepted spellings, finest first; `snapshots` prints
// the second one, its --json the first.
var timeLayouts = []struct {
	layout string
	span   func(time.Time) time.Time // the end of the period the spelling names
}{
	{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Second) }},
	{"2006-01-02 15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
	{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
	{"2006-01-02 15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	{"2006-01-02T15:04", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
}

// parseTime reads a time as the start of what it names (--since, --until).
func parseTime(s string) (time.Time, error) {
	t, _, err := parseSpan(s)
	return t, err
}

// parseAt reads --at: the last instant of what s names ("as it was on the
// 20th" = at the end of the 20th; "18:00" = until 18:00:59.999…), or s
// exactly when it has fractional seconds (as `snapshots --json` prints).
func parseAt(s string) (time.Time, error) {
	t, end, err := parseSpan(s)
	if err != nil || t.Nanosecond() != 0 {
		return t, err
	}
	return end.Add(-time.Nanosecond), nil
}

func parseSpan(s string) (start, end time.Time, err error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l.layout, s, time.Local); err == nil {
			return t, l.span(t), nil
		}
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%q is not a time like 2026-11-25, 2026-11-25 18:00:05 or 2026-11-25T12:00:00+03:00", s)
}

// announce says which snapshot a restore or export reads, before it starts.
func announce(cmd *cobra.Command, snap *backup.Snapshot) {
	fmt.Fprintf(cmd.ErrOrStderr(), "using snapshot %s of %s (%s)\n", snap.ID, snapTime(snap), snap.Status)
}

// snapTime is a snapshot's time as every listing prints it: when it was
// written (what --at compares), to the second, local.
func snapTime(s *backup.Snapshot) string { return s.Finished.Local().Format("2006-01-02 15:04:05") }

func newLsCommand(g *globalOptions) *cobra.Command {
	var sf snapshotFlags
	cmd := &cobra.Command{
		Use:   "ls [USER [SOURCE [CONTAINER]]]",
		Short: "Browse a snapshot: users, then sources and containers, then items",
		Args:  cobra.MaximumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			snap, err := sf.find(cmd, repo)
			if err != nil {
				return err
			}
			return runLs(cmd, g, repo, snap, args)
		},
	}
	sf.add(cmd)
	return cmd
}

// lsRow is one line of ls output (also its JSON form).
type lsRow struct {
	User      string          `json:"user,omitempty"`
	Source    string          `json:"source,omitempty"`
	Container string          `json:"container,omitempty"`
	Item      string          `json:"item,omitempty"`
	Items     int             `json:"items,omitempty"`
	Size      int64           `json:"size"`
	Status    string          `json:"status,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
}

func runLs(cmd *cobra.Command, g *globalOptions, repo *backup.Repository, snap *backup.Snapshot, args []string) error {
	var rows []lsRow
	if len(args) == 0 {
		for _, u := range snap.Users {
			r := lsRow{User: u.Email, Status: u.Status}
			for _, s := range u.Sources {
				r.Items += len(s.Containers)
			}
			rows = append(rows, r)
		}
	} else {
		sel := backup.Selection{Users: args[:1]}
		if len(args) > 1 {
			sel.Sources = args[1:2]
		}
		if len(args) > 2 {
			sel.Containers = args[2:3]
		}
		err := repo.Select(cmd.Context(), snap, sel, func(sc backup.SelectedContainer) error {
			if len(args) < 3 {
				r := lsRow{User: sc.User.Email, Source: sc.Source, Container: sc.Head.Name, Items: len(sc.Items)}
				for _, it := range sc.Items {
					r.Size += it.Size
				}
				rows = append(rows, r)
				return nil
			}
			for _, it := range sc.Items {
				rows = append(rows, lsRow{Container: sc.Head.Name, Item: it.ID, Size: it.Size, Meta: it.Meta})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].User+rows[i].Source < rows[j].User+rows[j].Source })
	out := cmd.OutOrStdout()
	if g.json {
		return printJSON(out, rows)
	}
	fmt.Fprintf(out, "snapshot %s (%s, %s)\n", snap.ID, snapTime(snap), snap.Status)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	switch len(args) {
	case 0:
		fmt.Fprintln(tw, "USER\tSTATUS\tCONTAINERS")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", r.User, r.Status, r.Items)
		}
	case 1, 2:
		fmt.Fprintln(tw, "SOURCE\tCONTAINER\tITEMS\tSIZE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Source, r.Container, r.Items, humanBytes(r.Size))
		}
	default:
		fmt.Fprintln(tw, "ITEM\tSIZE\tMETADATA")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Item, humanBytes(r.Size), r.Meta)
		}
	}
	return tw.Flush()
}
