package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/y360backup/y360backup/internal/demo"
)

func newDemoCommand(g *globalOptions) *cobra.Command {
	var dir string
	var verbose bool
	cmd := &cobra.Command{
		Use: "demo",
		Example: `  y360backup demo
  y360backup demo --dir /tmp/y360backup-demo -v`,
		Short: "Back up an emulated organization into a local folder and check the result (needs nothing but this binary)",
		Long: `Starts, in this process, an emulated Yandex 360 organization: the Directory and OAuth
token-exchange APIs and Disk REST (the emulator), an IMAP server speaking XOAUTH2, and a CalDAV
server, filled with generated users, folders (Cyrillic ones too), large and malformed messages,
recurring events, tasks and files. It backs the organization up into --dir, changes it, runs an
incremental and a no-change backup, and checks every stored item against the servers.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := zap.NewNop()
			if verbose {
				var err error
				if log, err = zap.NewDevelopment(); err != nil {
					return err
				}
			}
			err := demo.Run(cmd.Context(), demo.Options{Dir: dir, Out: cmd.OutOrStdout(), Log: log})
			if errors.Is(err, demo.ErrDirNotEmpty) {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "y360backup-demo", "repository folder for the demo")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log what the engine does")
	return cmd
}
