package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup/config"
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
			if err := checkWiring(cfg); err != nil {
				cerr := &config.Error{File: g.configFile}
				for _, msg := range strings.Split(err.Error(), "\n") {
					cerr.Problems = append(cerr.Problems, config.Problem{Msg: msg})
				}
				return cerr
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (organization %s, repository %s, sources: %s)\n",
				g.configFile, cfg.Organization.ID, cfg.Repository.Type, enabledSources(cfg))
			return nil
		},
	})
	return cmd
}
