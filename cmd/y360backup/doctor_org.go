package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/y360"
)

// orgScopes are the admin-token scopes the organization source reads with
// (docs/org.md), sorted; the service-application list needs the org owner.
func orgScopes(cfg *config.Config) []string {
	seen := map[string]bool{}
	for _, kind := range org.Kinds() {
		if cfg.Sources.Org.SkipMailSettings && (kind == org.KindUserRules || kind == org.KindSenderInfo) {
			continue
		}
		seen[org.Scope(kind)] = true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// checkOrgScopes reports, when sources.org is on and /whoami answered,
// which of the org source's scopes the admin token lacks: those object
// kinds would be skipped at every run.
func checkOrgScopes(p *printer, cfg *config.Config, id y360.Identity, whoamiErr error) {
	if !cfg.Sources.Org.Enabled || whoamiErr != nil {
		return
	}
	var missing []string
	for _, s := range orgScopes(cfg) {
		if !id.HasScope(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		p.ok("organization source", "the admin token has every scope it reads with")
		return
	}
	p.bad("organization source", fmt.Sprintf("the admin token lacks %s: those objects will be skipped", strings.Join(missing, " ")),
		"issue the admin token with these scopes too (y360backup auth login; service_applications_read needs the org owner), or accept the skips")
}
