package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
)

// openConfigRepo loads the config and opens its existing repository: the
// first steps of every command that reads backups (no org credentials needed).
func openConfigRepo(cmd *cobra.Command, g *globalOptions) (*config.Config, *backup.Repository, error) {
	cfg, err := loadReadConfig(cmd, g)
	if err != nil {
		return nil, nil, err
	}
	repo, err := openReadRepo(cmd.Context(), cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, repo, nil
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// finished turns a completed command's per-item failures into errPartial
// (exit code 1), after err (which wins), worded for the command that ran.
func finished(err error, failed int, command, what string) error {
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%s %w: %d item(s) not %s", command, errPartial, failed, what)
	}
	return nil
}
