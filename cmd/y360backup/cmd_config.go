package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the configuration file",
		Example: `  y360backup config check
  y360backup -c ./config.yaml config check`}
	cmd.AddCommand(&cobra.Command{
		Use: "check",
		Example: `  y360backup config check
  y360backup -c ./config.yaml config check`,
		Short: "Validate the configuration and report every problem with its key and line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (organization %s, repository %s, sources: %s)\n",
				g.configFile, cfg.Organization.ID, cfg.Repository.Type, enabledSources(cfg))
			return nil
		},
	})
	return cmd
}
