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
)

// Exit codes, one per error kind (documented in the README).
const (
	exitOK       = 0
	exitFailure  = 1 // a run finished but some users or items failed
	exitUsage    = 2 // bad flags or config
	exitInternal = 3 // the run could not happen (repository, lock, org API)
)

// errPartial marks a run that completed with failures.
var errPartial = errors.New("backup finished with failures")

type globalOptions struct {
	configFile string
	json       bool
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
	root.PersistentFlags().StringVarP(&gopts.configFile, "config", "c", "/etc/y360backup/config.yaml", "configuration file")
	root.PersistentFlags().BoolVar(&gopts.json, "json", false, "print machine-readable JSON")
	root.AddCommand(
		newBackupCommand(&gopts),
		newConfigCommand(&gopts),
		newSnapshotsCommand(&gopts),
		newLsCommand(&gopts),
		newRestoreCommand(&gopts),
		newExportCommand(&gopts),
		newVerifyCommand(&gopts),
		newUnlockCommand(&gopts),
		newDemoCommand(&gopts),
		newEmulatorCommand(),
		newVersionCommand(),
		newRunCommand(&gopts),
		newHealthcheckCommand(&gopts),
		newSetupCommand(&gopts),
		newDoctorCommand(&gopts),
		newAuthCommand(&gopts),
	)
	stopProfiles := startProfiles()
	err := root.ExecuteContext(ctx)
	stopProfiles()
	if err != nil {
		fmt.Fprintln(os.Stderr, "y360backup:", err)
	}
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	var cerr *config.Error
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errPartial), errors.Is(err, errDoctor):
		return exitFailure
	case errors.As(err, &cerr), errors.Is(err, errUsage):
		return exitUsage
	default:
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
