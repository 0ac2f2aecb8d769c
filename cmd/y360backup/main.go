// Command y360backup backs up a Yandex 360 for Business organization: every
// user's mail, calendars and Disk files, into a local folder or S3.
//
// This package only wires the CLI; the work happens in package backup and in
// the sources and sinks it is given.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/backup/lease"
)

// Exit codes, one per error kind (documented in the README and
// docs/deployment.md; 10 and 11 as restic's).
const (
	exitOK       = 0
	exitFailure  = 1  // a run finished but some users or items failed
	exitUsage    = 2  // bad flags, arguments or config; names a snapshot/user/container that is not there
	exitInternal = 3  // the run could not happen (repository, org API), doctor found a broken link
	exitNoRepo   = 10 // no repository at the given location
	exitLocked   = 11 // a command that needs the repository alone found another writer's lease
)

// errPartial marks a run that completed with failures.
var errPartial = errors.New("finished with failures")

type globalOptions struct {
	configFile string
	repo       string // -r: overrides the config's repository
	json       bool
	ran        bool // the command got past flag and argument checks (else: a usage error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var gopts globalOptions
	root := &cobra.Command{
		Use: "y360backup",
		Example: `  y360backup demo                            # try it on an emulated organization
  y360backup config check && y360backup doctor
  y360backup backup && y360backup snapshots
  y360backup restore -u alice@example.com --source mail --folder INBOX`,
		Short:         "Back up a Yandex 360 for Business organization (mail, calendars, Disk)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&gopts.configFile, "config", "c", defaultConfigFile(), "configuration file (env "+envConfig+")")
	root.PersistentFlags().StringVarP(&gopts.repo, "repo", "r", os.Getenv(envRepository),
		"repository: a directory, s3:BUCKET[/PREFIX] or s3:https://HOST/BUCKET[/PREFIX] (env "+envRepository+"); "+
			"commands that only read it need no config file then")
	root.PersistentFlags().BoolVar(&gopts.json, "json", false, "print machine-readable JSON")
	root.AddCommand(
		newBackupCommand(&gopts),
		newConfigCommand(&gopts),
		newSnapshotsCommand(&gopts),
		newLsCommand(&gopts),
		newRestoreCommand(&gopts),
		newExportCommand(&gopts),
		newVerifyCommand(&gopts),
		newRepairCommand(&gopts),
		newUnlockCommand(&gopts),
		newDemoCommand(&gopts),
		newEmulatorCommand(),
		newVersionCommand(),
		newRunCommand(&gopts),
		newHealthcheckCommand(&gopts),
		newSetupCommand(&gopts),
		newDoctorCommand(&gopts),
		newAuthCommand(&gopts),
		newOrgCommand(&gopts),
	)
	requireSubcommands(root, &gopts.ran)
	stopProfiles := startProfiles()
	err := root.ExecuteContext(ctx)
	stopProfiles()
	if err != nil && !gopts.ran && !errors.Is(err, errUsage) {
		err = fmt.Errorf("%w: %w (see y360backup --help)", errUsage, err)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "y360backup:", err)
	}
	os.Exit(exitCode(err))
}

// requireSubcommands makes a command group given an unknown subcommand
// ("config chek") fail as a usage error instead of printing help and
// exiting 0, and sets *ran when a command's RunE starts: cobra checks
// flags and arguments before, so an error from a command that never got
// there is a usage error (exit 2).
func requireSubcommands(c *cobra.Command, ran *bool) {
	for _, sub := range c.Commands() {
		requireSubcommands(sub, ran)
	}
	if c.HasParent() && c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.NoArgs
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%w: %s needs a subcommand (see %s --help)", errUsage, cmd.CommandPath(), cmd.CommandPath())
		}
	}
	switch run, runE := c.Run, c.RunE; {
	case runE != nil:
		c.RunE = func(cmd *cobra.Command, args []string) error { *ran = true; return runE(cmd, args) }
	case run != nil:
		c.Run = func(cmd *cobra.Command, args []string) { *ran = true; run(cmd, args) }
	}
}

func exitCode(err error) int {
	var cerr *config.Error
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errPartial):
		return exitFailure
	case errors.As(err, &cerr), errors.Is(err, errUsage), errors.Is(err, backup.ErrNotFound):
		return exitUsage
	case errors.Is(err, backup.ErrNoRepository):
		return exitNoRepo
	case errors.Is(err, lease.ErrHeld):
		return exitLocked
	default: // errDoctor too: a broken link means the run could not happen
		return exitInternal
	}
}

var errUsage = errors.New("usage")

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Example: `  y360backup version`,
		Short:   "Print the version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "y360backup %s (repository format %d)\n", version, backup.FormatVersion)
		},
	}
}
