package main

import (
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/y360"
)

// buildOrgSources returns the org-wide sources (run once per run, not per
// user): the organization source when sources.org.enabled.
func buildOrgSources(cfg *config.Config, client *y360.Client) []sources.Source {
	if !cfg.Sources.Org.Enabled {
		return nil
	}
	c := org.NewConfig()
	if cfg.Sources.Org.PerPage > 0 {
		c.PerPage = cfg.Sources.Org.PerPage
	}
	c.SkipMailSettings = cfg.Sources.Org.SkipMailSettings
	return []sources.Source{org.New(client, c)}
}
