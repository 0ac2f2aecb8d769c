package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
)

func newRepairCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Index packs left by interrupted runs, drop lost packs from the index and re-fetch what they held",
		Long: `Packs that no index file names (a run killed between uploading a pack and indexing it) are
read, checked against their names and indexed again, so their objects are not stored twice.
After packs were deleted or truncated (verify names them), repair rewrites the index
files that name them without them, then runs a backup in which every container that referenced a
lost object, or whose index segments were lost, starts afresh from the server: objects still
stored are found by hash and not uploaded again, lost ones are fetched and stored again.
Items the server no longer has cannot come back. Run it while no other backup writes the
repository. With nothing lost it only says so.`,
		Example: `  y360backup verify            # names lost packs and the items they held
  y360backup repair            # re-fetches those items from the servers
  y360backup verify            # clean again`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRun(cmd, g, nil, func(repo *backup.Repository, ro backup.RunOptions) error {
				rep, err := repo.Repair(cmd.Context(), ro)
				out := cmd.OutOrStdout()
				if g.json && err == nil {
					return printJSON(out, rep)
				}
				if len(rep.Adopted)+len(rep.Unusable) > 0 {
					fmt.Fprintf(out, "repair: %d pack(s) no index named (left by interrupted runs) indexed again\n", len(rep.Adopted))
					for _, u := range rep.Unusable {
						fmt.Fprintln(out, "  not adopted:", u)
					}
				}
				if len(rep.LostPacks) == 0 && err == nil {
					fmt.Fprintln(out, "repair: no pack is lost; nothing to re-fetch (verify checks the rest)")
					return nil
				}
				fmt.Fprintf(out, "repair: %d lost pack(s), %d lost object(s); %d index file(s) rewritten\n",
					len(rep.LostPacks), rep.LostBlobs, rep.IndexFiles)
				for _, k := range rep.LostPacks {
					fmt.Fprintln(out, "  lost:", k)
				}
				for _, c := range rep.Containers {
					fmt.Fprintln(out, "  started afresh:", c)
				}
				if err != nil {
					return err
				}
				return reportSnapshot(out, false, rep.Snapshot)
			})
		},
	}
	return cmd
}
