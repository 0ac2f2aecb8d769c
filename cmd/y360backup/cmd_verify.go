package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
)

type verifyOptions struct {
	snapshot string
	fraction float64
}

func newVerifyCommand(g *globalOptions) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use: "verify",
		Example: `  y360backup verify                          # the latest snapshot, all its objects
  y360backup verify --sample 0.05            # 5% of the objects (the rest of the checks in full)
  y360backup verify --snapshot 3f9a1c2b`,
		Short: "Check the repository's files against each other, and re-read a snapshot's objects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSample(opts.fraction); err != nil {
				return err
			}
			_, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			return runVerify(cmd, g, repo, opts)
		},
	}
	cmd.Flags().StringVar(&opts.snapshot, "snapshot", "latest", "snapshot ID (prefix) to verify")
	cmd.Flags().Float64Var(&opts.fraction, "sample", 1, "fraction of objects to re-read (0-1]")
	return cmd
}

func runVerify(cmd *cobra.Command, g *globalOptions, repo *backup.Repository, opts verifyOptions) error {
	snap, err := repo.FindSnapshot(cmd.Context(), opts.snapshot)
	if err != nil {
		return err
	}
	rep, err := repo.Verify(cmd.Context(), snap, backup.VerifyOptions{Fraction: opts.fraction})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if g.json {
		printJSON(out, rep)
	} else {
		fmt.Fprintf(out, "repository: %d index files, %d packs, %d snapshots checked\n", rep.IndexFiles, rep.Packs, rep.Snapshots)
		if rep.UnindexedPacks > 0 {
			fmt.Fprintf(out, "  %d packs (%s) left by interrupted runs: harmless, not referenced\n", rep.UnindexedPacks, humanBytes(rep.UnindexedBytes))
		}
		fmt.Fprintf(out, "verify %s: %d containers, %d items, %d objects read (%s)\n",
			snap.ID, rep.Containers, rep.Items, rep.Objects, humanBytes(rep.Bytes))
		for _, p := range rep.Problems {
			fmt.Fprintln(out, "  PROBLEM:", p)
		}
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("verify %w: %d problem(s) found", errPartial, len(rep.Problems))
	}
	return nil
}

// checkSample refuses a --sample outside (0, 1] (NaN included): verify
// would read everything or nothing without saying so.
func checkSample(f float64) error {
	if !(f > 0 && f <= 1) {
		return fmt.Errorf("%w: --sample %v: want a fraction in (0, 1], e.g. 0.1 for 10%%", errUsage, f)
	}
	return nil
}
