package main

import (
	"encoding/json"
	"fmt"
	"regexp"
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
// the second one (with fractions when two snapshots share a second), its
// --json the first. Fractional seconds are accepted after any seconds field.
var timeLayouts = []struct {
	layout string
	span   time.Duration // the length of the period the spelling names; 0 = a day
}{
	{time.RFC3339Nano, time.Second},
	{"2006-01-02 15:04:05", time.Second},
	{"2006-01-02T15:04:05", time.Second},
	{"2006-01-02 15:04", time.Minute},
	{"2006-01-02T15:04", time.Minute},
	{"2006-01-02", 0},
}

// fraction finds the fractional seconds of a spelled time.
var fraction = regexp.MustCompile(`:\d\d[.,](\d{1,9})`)

// parseTime reads a time as the start of what it names (--since, --until).
func parseTime(s string) (time.Time, error) {
	t, _, err := parseSpan(s)
	return t, err
}

// parseAt reads --at: the last instant of what s names ("as it was on the
// 20th" = at the end of the 20th; "18:00" = until 18:00:59.999999999;
// "18:00:05.120" = until 18:00:05.120999999; nine fraction digits, as
// `snapshots --json` prints, name one instant).
func parseAt(s string) (time.Time, error) {
	_, end, err := parseSpan(s)
	if err != nil {
		return end, err
	}
	return end.Add(-time.Nanosecond), nil
}

// parseSpan returns the period s names: [start, end).
func parseSpan(s string) (start, end time.Time, err error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		t, err := time.ParseInLocation(l.layout, s, time.Local)
		if err != nil {
			continue
		}
		switch m := fraction.FindStringSubmatch(s); {
		case m != nil:
			span := time.Duration(1)
			for range 9 - len(m[1]) {
				span *= 10
			}
			return t, t.Add(span), nil
		case l.span == 0:
			return t, t.AddDate(0, 0, 1), nil
		default:
			return t, t.Add(l.span), nil
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
func snapTime(s *backup.Snapshot) string { return snapTimeIn(s, 0) }

// snapTimeIn prints with digits (0, 3, 6 or 9) fractional digits.
func snapTimeIn(s *backup.Snapshot, digits int) string {
	layout := "2006-01-02 15:04:05"
	if digits > 0 {
		layout += "." + strings.Repeat("0", digits)
	}
	return s.Finished.Local().Format(layout)
}

// timeDigits is the fewest fractional digits that tell every snapshot's
// printed time from its neighbours' (the list is in time order), so each
// TIME given to --at picks its own row.
func timeDigits(snaps []*backup.Snapshot) int {
	for _, d := range []int{0, 3, 6} {
		distinct := true
		for i := 1; i < len(snaps) && distinct; i++ {
			distinct = snapTimeIn(snaps[i-1], d) != snapTimeIn(snaps[i], d)
		}
		if distinct {
			return d
		}
	}
	return 9
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
