package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup/lease"
)

func newUnlockCommand(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "unlock [LEASE...]",
		Short: "List the repository's leases, or free those of a writer known to be dead",
		Long: `Writers lease the users they back up (per bucket of users and source), so two
processes never write the same user. A crashed writer's leases free themselves
after the lease TTL (5 minutes by default); unlock frees them at once.

Without arguments unlock lists every lease: name, state (live, expired,
released), holder, host and last heartbeat. Name leases to free them, or use
--all to free every live one. Only free a lease whose holder is dead: a live
holder notices at its next refresh and stops, but may overlap with a new
writer until then (its work then ranks below the new writer's).`,
		Example: `  y360backup unlock                 # list leases
  y360backup unlock b/17/mail       # free one
  y360backup unlock --all           # free every live lease`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			infos, err := repo.Leases(cmd.Context())
			if err != nil {
				return err
			}
			targets := args
			if all {
				targets = nil
				for _, in := range infos {
					if in.State == lease.Live {
						targets = append(targets, in.Name)
					}
				}
			}
			if len(targets) == 0 {
				return printLeases(cmd, g, infos)
			}
			var freed []lease.Info
			for _, name := range targets {
				in, err := repo.BreakLease(cmd.Context(), name)
				if err != nil {
					return err
				}
				freed = append(freed, in)
				if !g.json {
					fmt.Fprintf(cmd.OutOrStdout(), "freed %s (was %s, held by %s on %s)\n", in.Name, in.State, in.Owner, in.Host)
				}
			}
			if g.json {
				return printJSON(cmd.OutOrStdout(), freed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "free every live lease")
	return cmd
}

func printLeases(cmd *cobra.Command, g *globalOptions, infos []lease.Info) error {
	if g.json {
		return printJSON(cmd.OutOrStdout(), infos)
	}
	if len(infos) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), "no leases")
		return nil
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEASE\tSTATE\tEPOCH\tHOLDER\tHOST\tPID\tLAST HEARTBEAT")
	for _, in := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s ago\n", in.Name, in.State, in.Epoch, in.Owner, in.Host, in.PID,
			time.Since(in.LastHeartbeat).Round(time.Second))
	}
	return tw.Flush()
}
