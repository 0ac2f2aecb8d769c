package main

import (
	"encoding/json"
	"fmt"
	"sort"
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
	cmd.Flags().StringVar(&f.at, "at", "", "point in time (RFC 3339 or 2006-01-02[ 15:04]): the newest snapshot at or before it")
}

func (f *snapshotFlags) find(cmd *cobra.Command, repo *backup.Repository) (*backup.Snapshot, error) {
	if f.at != "" {
		t, err := parseTime(f.at)
		if err != nil {
			return nil, fmt.Errorf("%w: --at: %v", errUsage, err)
		}
		return repo.SnapshotAt(cmd.Context(), t)
	}
	return repo.FindSnapshot(cmd.Context(), f.snapshot)
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time like 2026-11-25 or 2026-11-25T12:00:00+03:00", s)
}

func newLsCommand(g *globalOptions) *cobra.Command {
	var sf snapshotFlags
	cmd := &cobra.Command{
		Use: "ls [USER [SOURCE [CONTAINER]]]",
		Example: `  y360backup ls                              # users in the latest snapshot
  y360backup ls alice@example.com mail       # her mail folders
  y360backup ls alice@example.com mail INBOX --at 2026-11-20`,
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
	fmt.Fprintf(out, "snapshot %s (%s, %s)\n", snap.ID, snap.Started.Local().Format("2006-01-02 15:04:05"), snap.Status)
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
