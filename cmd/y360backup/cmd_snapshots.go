package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newSnapshotsCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use: "snapshots",
		Example: `  y360backup snapshots
  y360backup snapshots --json`,
		Short: "List the backup runs stored in the repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			snaps, err := repo.Snapshots(cmd.Context())
			if g.json {
				if jerr := printJSON(cmd.OutOrStdout(), snaps); jerr != nil {
					return jerr
				}
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			// TIME is when the snapshot was written: what the list is
			// ordered by and what --at compares.
			fmt.Fprintln(tw, "ID\tTIME\tDURATION\tSTATUS\tUSERS\tITEMS\tBYTES\tFAILED")
			digits := timeDigits(snaps)
			for _, s := range snaps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%d\t%s\t%d\n", s.ID, snapTimeIn(s, digits),
					s.Finished.Sub(s.Started).Round(1e8), s.Status, s.UsersOK, s.UsersOK+s.UsersFailed,
					s.Totals.Items, humanBytes(s.Totals.Bytes), s.Totals.Failed)
			}
			tw.Flush()
			return err
		},
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
