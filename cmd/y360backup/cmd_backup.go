package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sources"
)

type backupOptions struct {
	users []string
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	var opts backupOptions
	cmd := &cobra.Command{
		Use: "backup",
		Example: `  y360backup backup                          # every user the config selects
  y360backup backup -u alice@example.com -u bob@example.com
  y360backup -c ./config.yaml backup --json`,
		Short: "Back up all (or the named) users now, once",
		Long: `Backs up every selected user of the organization once: mail, calendars and Disk as
enabled in the config. Users run in parallel (concurrency); a failing user or item is
reported and skipped, and the command exits 1 at the end if anything failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRun(cmd, g, opts.users, func(repo *backup.Repository, ro backup.RunOptions) error {
				snap, err := repo.Backup(cmd.Context(), ro)
				if err != nil {
					return err
				}
				return reportSnapshot(cmd.OutOrStdout(), g.json, snap)
			})
		},
	}
	cmd.Flags().StringArrayVarP(&opts.users, "user", "u", nil, "back up only this user (email or uid; \"org\" = the organization's own objects); repeatable")
	return cmd
}

// withRun opens the config's repository and organization and calls do with
// the options of a backup run of the users only (all if empty): backup and
// repair run the same way.
func withRun(cmd *cobra.Command, g *globalOptions, only []string, do func(*backup.Repository, backup.RunOptions) error) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	logStartup(log, cmd.Name(), g.configFile)
	defer log.Sync()
	repo, err := openRepo(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer repo.Close()
	hc := politeTransport(cfg, nil).Client()
	org, err := newOrgClient(cfg, hc)
	if err != nil {
		return err
	}
	srcs, err := buildSources(cfg, org, hc)
	if err != nil {
		return err
	}
	ro := backup.RunOptions{
		Users:       org,
		Sources:     srcs,
		OrgSources:  buildOrgSources(cfg, org),
		Tokens:      func(u sources.User) sources.TokenSource { return org.Tokens(u) },
		Filter:      userFilter(cfg),
		Only:        only,
		Concurrency: cfg.Concurrency,
		Log:         log,
	}
	if !g.json && isTerminal(os.Stderr) {
		p := newProgress(os.Stderr)
		ro.OnStart, ro.OnUserDone = p.start, p.userDone
		defer p.finish()
	}
	return do(repo, ro)
}

// reportSnapshot prints a run's summary and turns failures into errPartial.
func reportSnapshot(w io.Writer, asJSON bool, snap *backup.Snapshot) error {
	if asJSON {
		if err := printJSON(w, snap); err != nil {
			return err
		}
	} else {
		printSummary(w, snap)
	}
	if snap.Status != backup.StatusOK {
		return fmt.Errorf("backup %w: %d user(s) failed, %d item(s) failed (snapshot %s)", errPartial, snap.UsersFailed, snap.Totals.Failed, snap.ID)
	}
	return nil
}

func printSummary(w io.Writer, snap *backup.Snapshot) {
	t := snap.Totals
	fmt.Fprintf(w, "snapshot %s: %s in %s\n", snap.ID, snap.Status, snap.Finished.Sub(snap.Started).Round(time.Millisecond))
	fmt.Fprintf(w, "  users:      %d ok, %d failed\n", snap.UsersOK, snap.UsersFailed)
	fmt.Fprintf(w, "  containers: %d (folders, calendars, drives)\n", t.Containers)
	fmt.Fprintf(w, "  items:      %d new or changed (%s), %d metadata changes, %d deleted at source\n", t.Items, humanBytes(t.Bytes), t.MetaChanges, t.Deleted)
	fmt.Fprintf(w, "  stored:     %d new objects (%s compressed), %d index segments (%s)\n", t.Uploaded, humanBytes(t.UploadedBytes), t.Segments, humanBytes(t.IndexBytes))
	fmt.Fprintf(w, "  skipped:    %d   failed: %d\n", t.Skipped, t.Failed)
	printOrgReport(w, snap)
	users := append([]backup.UserSnapshot(nil), snap.Users...)
	sort.Slice(users, func(i, j int) bool { return users[i].Email < users[j].Email })
	for _, u := range users {
		if u.Status == backup.StatusOK || u.Carried || u.ID == backup.OrgUserID {
			continue // the organization is reported above
		}
		fmt.Fprintf(w, "  %s %s: %s\n", u.Status, u.Email, u.Error)
		for name, s := range u.Sources {
			for _, f := range s.Failures {
				fmt.Fprintf(w, "    %s: %s\n", name, f)
			}
		}
	}
}
