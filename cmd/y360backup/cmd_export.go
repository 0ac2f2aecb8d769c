package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup/export"
)

type exportOptions struct {
	snapshotFlags
	selectionFlags
	out    string
	format string
}

func newExportCommand(g *globalOptions) *cobra.Command {
	var opts exportOptions
	cmd := &cobra.Command{
		Use: "export --out DIR|FILE.tar.zst",
		Example: `  y360backup export --out /srv/export
  y360backup export -u alice@example.com --source mail --mail-format mbox -o alice-mail
  y360backup export --at 2026-11-20 -o org-2026-11-20.tar.zst`,
		Short: "Write backed-up items to local files (Maildir/mbox/.eml, .ics, file tree) without touching any account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.out == "" {
				return fmt.Errorf("%w: --out is required", errUsage)
			}
			sel, err := opts.selection()
			if err != nil {
				return err
			}
			_, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			snap, err := opts.find(cmd, repo)
			if err != nil {
				return err
			}
			rep, err := export.Export(cmd.Context(), repo, snap, sel, export.Options{Out: opts.out, MailFormat: opts.format})
			if rep != nil {
				out := cmd.OutOrStdout()
				if g.json {
					printJSON(out, rep)
				} else {
					fmt.Fprintf(out, "exported snapshot %s to %s: %d containers, %d items (%s), %d failed\n",
						snap.ID, opts.out, rep.Containers, rep.Items, humanBytes(rep.Bytes), rep.Failed)
					for _, f := range rep.Failures {
						fmt.Fprintln(out, "  FAILED:", f)
					}
				}
			}
			if rep == nil {
				return err
			}
			return finished(err, rep.Failed, "exported")
		},
	}
	opts.snapshotFlags.add(cmd)
	opts.selectionFlags.add(cmd)
	cmd.Flags().StringVarP(&opts.out, "out", "o", "", "output directory, or a file name ending in .tar.zst")
	cmd.Flags().StringVar(&opts.format, "mail-format", export.Maildir, "maildir, mbox (mboxrd) or eml")
	return cmd
}
