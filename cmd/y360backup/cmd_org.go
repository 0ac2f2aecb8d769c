package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/backup/orgview"
	"github.com/y360backup/y360backup/sources/org"
)

func newOrgCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "org",
		Short: "Inspect the organization's backed-up structure (users, departments, groups, rules)",
		Example: `  y360backup org diff 3f9a1c2b
  y360backup org plan-restore 3f9a1c2b --against live > recreate.sh`,
	}
	cmd.AddCommand(newOrgDiffCommand(g), newOrgPlanCommand(g))
	return cmd
}

func newOrgDiffCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "diff OLD [NEW]",
		Short: "Who joined or left which group or department between two snapshots (NEW defaults to latest)",
		Example: `  y360backup org diff 3f9a1c2b            # from that snapshot to the latest
  y360backup -r /srv/repo org diff 3f9a1c2b 7d0e4411`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			newer := "latest"
			if len(args) == 2 {
				newer = args[1]
			}
			old, cur, err := loadOrgPair(cmd, repo, args[0], newer)
			if err != nil {
				return err
			}
			changes := org.Diff(old.st, cur.st)
			if g.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"from": old.snap.ID, "to": cur.snap.ID, "changes": changes,
					"problems": append(old.problems, cur.problems...)})
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "organization changes from snapshot %s to %s:\n", old.snap.ID, cur.snap.ID)
			printProblems(out, old, cur)
			return org.WriteDiff(out, changes)
		},
	}
}

type orgPlanOptions struct{ against string }

func newOrgPlanCommand(g *globalOptions) *cobra.Command {
	var opts orgPlanOptions
	cmd := &cobra.Command{
		Use: "plan-restore SNAPSHOT",
		Example: `  y360backup org plan-restore 3f9a1c2b > recreate.sh   # review, then run by hand
  y360backup org plan-restore 3f9a1c2b --against live`,
		Short: "Print (never run) the API calls that would recreate departments, groups, memberships and rules missing since SNAPSHOT",
		Long: `Compares the organization as backed up in SNAPSHOT with a later state (--against: a snapshot,
by default the latest, or "live" to read the organization now through the admin API, read
only) and prints a bash script of
Yandex 360 API calls that would recreate what is missing: departments (parents first),
groups, group memberships, users' departments and the mail routing rules. Nothing is
executed: review the script, then run it yourself. Users who left are listed, not recreated.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, repo, err := openConfigRepo(cmd, g)
			if err != nil {
				return err
			}
			defer repo.Close()
			against := opts.against
			if against == "live" {
				against = args[0] // loaded twice, cheap; replaced below
			}
			want, target, err := loadOrgPair(cmd, repo, args[0], against)
			if err != nil {
				return err
			}
			targetName := "snapshot " + target.snap.ID
			if opts.against == "live" {
				if target, err = liveOrg(cmd, cfg); err != nil {
					return err
				}
				targetName = "the live organization " + cfg.Organization.ID
			}
			printProblems(cmd.ErrOrStderr(), want, target)
			return org.Plan(cmd.OutOrStdout(), want.st, target.st, org.PlanOptions{
				OrgID: cfg.Organization.ID, APIBase: cfg.API.DirectoryURL,
				Source: "snapshot " + want.snap.ID, Target: targetName,
			})
		},
	}
	cmd.Flags().StringVar(&opts.against, "against", "latest", `snapshot that stands for the organization as it is now, or "live" to read it through the API`)
	return cmd
}

// orgSnap is one snapshot's organization state.
type orgSnap struct {
	snap     *backup.Snapshot
	st       *org.State
	problems []string
}

func loadOrgPair(cmd *cobra.Command, repo *backup.Repository, a, b string) (orgSnap, orgSnap, error) {
	var out [2]orgSnap
	for i, id := range []string{a, b} {
		snap, err := repo.FindSnapshot(cmd.Context(), id)
		if err != nil {
			return out[0], out[1], err
		}
		st, problems, err := orgview.Load(cmd.Context(), repo, snap)
		if err != nil {
			return out[0], out[1], err
		}
		out[i] = orgSnap{snap: snap, st: st, problems: problems}
	}
	return out[0], out[1], nil
}

// liveOrg reads the organization now (read-only admin calls).
func liveOrg(cmd *cobra.Command, cfg *config.Config) (orgSnap, error) {
	client, err := newOrgClient(cfg, politeTransport(cfg, nil).Client())
	if err != nil {
		return orgSnap{}, err
	}
	c := org.NewConfig()
	if cfg.Sources.Org.PerPage > 0 {
		c.PerPage = cfg.Sources.Org.PerPage
	}
	st, problems, err := org.FetchState(cmd.Context(), client, c)
	if err != nil {
		return orgSnap{}, fmt.Errorf("read the live organization: %w", err)
	}
	return orgSnap{st: st, problems: problems}, nil
}

func printProblems(w io.Writer, snaps ...orgSnap) {
	for _, s := range snaps {
		where := "the live organization"
		if s.snap != nil {
			where = "snapshot " + s.snap.ID
		}
		for _, p := range s.problems {
			fmt.Fprintf(w, "  WARNING: %s: %s (left out)\n", where, p)
		}
	}
}

// printOrgReport lists what the organization source found but could not
// back up: shared mailboxes and blocked users' mailboxes (they need a
// delegate account), and object kinds the admin token may not read.
func printOrgReport(w io.Writer, snap *backup.Snapshot) {
	for _, u := range snap.Users {
		if u.ID != backup.OrgUserID || u.Carried {
			continue
		}
		s := u.Sources["org"]
		if s == nil || s.Carried {
			continue
		}
		fmt.Fprintf(w, "  organization: %s, %d object(s) new or changed, %d removed\n", s.Status, s.Stats.Items, s.Stats.Deleted)
		for _, sk := range s.Skips {
			fmt.Fprintf(w, "    %s\n", sk)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "    FAILED: %s\n", s.Error)
		}
		for _, f := range s.Failures {
			fmt.Fprintf(w, "    FAILED: %s\n", f)
		}
	}
}
