package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup/export"
)

type exportOptions struct {
	snapshotFlags
	selectionFlags
	out    string
	format string
	force  bool
}

func newExportCommand(g *globalOptions) *cobra.Command {
	var opts exportOptions
	cmd := &cobra.Command{
		Use:   "export --out DIR|FILE.tar.zst|-",
		Short: "Write backed-up items to local files (Maildir/mbox/.eml, .ics, file tree) without touching any account",
		Example: `  y360backup -r /srv/repo export -u alice@example.com --out alice --mail-format mbox
  y360backup export --at 2026-11-20 --out org-2026-11-20.tar.zst
  y360backup export --source calendar --out - | tar -t`,
		Args: cobra.NoArgs,
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
			announce(cmd, snap)
			rep, err := export.Export(cmd.Context(), repo, snap, sel, export.Options{Out: opts.out, MailFormat: opts.format,
				Force: opts.force, Stream: cmd.OutOrStdout()})
			if errors.Is(err, export.ErrNotEmpty) {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if rep != nil {
				out := cmd.OutOrStdout()
				if opts.out == "-" { // stdout is the tar stream
					out = cmd.ErrOrStderr()
				}
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
			return finished(err, rep.Failed, "export", "exported")
		},
	}
	opts.snapshotFlags.add(cmd)
	opts.selectionFlags.add(cmd)
	cmd.Flags().StringVarP(&opts.out, "out", "o", "", "output: a new or empty directory, a file name ending in .tar.zst, or - (a tar stream on stdout)")
	cmd.Flags().BoolVar(&opts.force, "force", false, "export into a directory that already holds files (existing files are never overwritten)")
	cmd.Flags().StringVar(&opts.format, "mail-format", export.Maildir, "maildir, mbox (mboxrd) or eml")
	return cmd
}
