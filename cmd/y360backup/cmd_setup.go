package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// Scopes the org token needs for setup (service-application management is
// for the organization's owner only).
const (
	scopeAppsRead  = "ya360_security:service_applications_read"
	scopeAppsWrite = "ya360_security:service_applications_write"
	scopeUsersRead = "directory:read_users"
)

// neededScopes are the service-application scopes the enabled sources use
// for backup: read-only, so the backup host cannot change mailboxes.
func neededScopes(cfg *config.Config) []string {
	var s []string
	if config.On(cfg.Sources.Mail.Enabled) {
		s = append(s, "mail:imap_ro")
	}
	if config.On(cfg.Sources.Calendar.Enabled) {
		s = append(s, "calendar:all")
	}
	if config.On(cfg.Sources.Disk.Enabled) {
		s = append(s, "cloud_api:disk.info", "cloud_api:disk.read")
	}
	if cfg.ContactsOn() {
		s = append(s, cfg.Sources.Contacts.Scope) // addressbook:all unless configured; also allows PUT
	}
	return s
}

// restoreScopes are what restoring into accounts needs on top (IMAP APPEND,
// Disk upload; calendar:all already allows CalDAV PUT). Least privilege: a
// separate service application for restores keeps the daemon read-only.
func restoreScopes(cfg *config.Config) []string {
	var s []string
	if config.On(cfg.Sources.Mail.Enabled) {
		s = append(s, "mail:imap_full")
	}
	if config.On(cfg.Sources.Disk.Enabled) {
		s = append(s, "cloud_api:disk.write")
	}
	return s
}

type setupOptions struct {
	testUser       string
	ownerTokenFile string
	dryRun         bool
	restore        bool
}

func newSetupCommand(g *globalOptions) *cobra.Command {
	var opts setupOptions
	cmd := &cobra.Command{
		Use: "setup",
		Example: `  y360backup setup --dry-run
  y360backup setup --owner-token-file owner-token --test-user alice@example.com
  y360backup setup --restore                 # also grant the scopes restores need`,
		Short: "Register the service application in the organization (as its owner) and test it",
		Long: `Automates the manual steps of Yandex's service-applications guide, as the
organization's owner (a token with ya360_security:service_applications_write):
  1. activate service applications in the organization if they are not active;
  2. add organization.client_id with the scopes the enabled sources need to the
     org's service-application list (the API replaces the whole list, so the list
     is read, merged and written back; other applications are kept as they are);
  3. read the list back to verify;
  4. mint a token for one user (--test-user, or the first enabled user) and show
     its scopes.
The owner's token is organization.admin_token unless --owner-token-file names
another. Tokens are never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			return runSetup(cmd.Context(), cfg, opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.testUser, "test-user", "", "user (email or uid) to mint the test token for (default: the first enabled user)")
	cmd.Flags().StringVar(&opts.ownerTokenFile, "owner-token-file", "", "file holding the org owner's OAuth token, if not organization.admin_token")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "show what would change without changing anything")
	cmd.Flags().BoolVar(&opts.restore, "restore", false, "also grant the write scopes restore needs (mail:imap_full, cloud_api:disk.write)")
	return cmd
}

// errSetup marks a setup step that failed (its explanation was printed).
var errSetup = errors.New("setup did not complete")

func runSetup(ctx context.Context, cfg *config.Config, opts setupOptions, out io.Writer) error {
	ownerCfg := *cfg
	if opts.ownerTokenFile != "" {
		b, err := os.ReadFile(opts.ownerTokenFile)
		if err != nil {
			return fmt.Errorf("%w: --owner-token-file: %v", errUsage, err)
		}
		ownerCfg.Organization.AdminToken = strings.TrimSpace(string(b))
	}
	org, err := newOrgClient(&ownerCfg, nil)
	if err != nil {
		return err
	}
	p := &printer{out: out}
	need := neededScopes(cfg)
	if opts.restore {
		need = append(need, restoreScopes(cfg)...)
	}
	clientID := cfg.Organization.ClientID

	// 0. What the owner token can do (the endpoint is undocumented: tolerate 404).
	if id, err := org.Whoami(ctx); err == nil {
		if !id.HasScope(scopeAppsWrite) {
			p.bad("owner token", fmt.Sprintf("token of %s lacks scope %s (it has: %s)", id.Login, scopeAppsWrite, strings.Join(id.Scopes, " ")),
				"get a token of the organization's owner with "+scopeAppsRead+" and "+scopeAppsWrite+
					" (y360backup auth login --scope ...) and pass it with --owner-token-file")
			return errSetup
		}
		p.ok("owner token", "token of "+id.Login+" has "+scopeAppsWrite)
	} else if y360.IsUnauthorized(err) {
		p.bad("owner token", err.Error(), "the token is invalid or expired: get a new one (y360backup auth login)")
		return errSetup
	} else {
		p.skip("owner token", "could not read its scopes ("+err.Error()+"); continuing")
	}

	// 1. List, activating the feature first when needed.
	apps, err := org.ListServiceApps(ctx)
	if isFeatureInactive(err) {
		if opts.dryRun {
			p.note("service applications", "not active in the organization: would activate them")
			apps, err = nil, nil
		} else {
			if aerr := org.ActivateServiceApps(ctx); aerr != nil {
				p.bad("activate service applications", aerr.Error(), ownerFix(aerr))
				return errSetup
			}
			p.ok("service applications", "activated in the organization (they were not active)")
			apps, err = org.ListServiceApps(ctx)
		}
	}
	if err != nil {
		p.bad("service-application list", err.Error(), ownerFix(err))
		return errSetup
	}
	p.ok("service-application list", fmt.Sprintf("%d application(s) registered", len(apps)))

	// 2. Merge our client id with the needed scopes; never drop others' apps.
	merged, changed := mergeApp(apps, clientID, need)
	if len(merged) > 20 {
		p.bad("service-application list", "the organization already has 20 service applications, Yandex's maximum",
			"remove an unused one in the admin console (Security → Service applications)")
		return errSetup
	}
	switch {
	case !changed:
		p.ok("our application", fmt.Sprintf("%s already listed with %s", clientID, strings.Join(need, " ")))
	case opts.dryRun:
		p.note("our application", fmt.Sprintf("would write %s with scopes %s (other applications unchanged)", clientID, strings.Join(scopesOf(merged, clientID), " ")))
		return nil
	default:
		if err := org.SetServiceApps(ctx, merged); err != nil {
			p.bad("write service-application list", err.Error(), ownerFix(err))
			return errSetup
		}
		// 3. Read back and verify.
		back, err := org.ListServiceApps(ctx)
		if err != nil {
			p.bad("read back", err.Error(), "run setup again; the write may not have been applied")
			return errSetup
		}
		if missing := missingScopes(scopesOf(back, clientID), need); missing != nil {
			p.bad("read back", fmt.Sprintf("%s lacks %s after the write", clientID, strings.Join(missing, " ")), "run setup again")
			return errSetup
		}
		if lost := lostApps(apps, back); lost != nil {
			p.bad("read back", "other applications changed: "+strings.Join(lost, ", "), "check the list in the admin console")
			return errSetup
		}
		p.ok("our application", fmt.Sprintf("%s registered with %s; verified by reading the list back",
			clientID, strings.Join(scopesOf(back, clientID), " ")))
	}
	if opts.dryRun {
		return nil
	}

	// 4. A test token for one user, with the config's own admin token for the directory.
	dir, err := newOrgClient(cfg, nil)
	if err != nil {
		return err
	}
	u, err := pickUser(ctx, dir, cfg, opts.testUser)
	if err != nil {
		p.bad("test user", err.Error(), "pass an existing, enabled user with --test-user")
		return errSetup
	}
	tok, err := dir.ExchangeToken(ctx, u)
	if err != nil {
		p.bad("test token", err.Error(), "see the hint above; Yandex may take a minute to apply a new list")
		return errSetup
	}
	granted := strings.Fields(tok.Scope)
	if id, err := dir.WhoamiToken(ctx, tok.AccessToken); err == nil {
		granted = id.Scopes
	}
	if missing := missingScopes(granted, need); missing != nil {
		p.bad("test token", fmt.Sprintf("token for %s lacks %s (has: %s)", u.Email, strings.Join(missing, " "), strings.Join(granted, " ")),
			"add those scopes to the OAuth app at oauth.yandex.ru as well; the service-application entry cannot grant more than the app has")
		return errSetup
	}
	p.ok("test token", fmt.Sprintf("minted for %s, valid %s, scopes %s", u.Email, tok.ExpiresIn, strings.Join(granted, " ")))
	fmt.Fprintln(out, "\nSetup complete. Next: y360backup doctor, then y360backup backup (or run).")
	return nil
}

// mergeApp adds need to clientID's scopes (adding the app if absent) and
// reports whether anything changed. Other apps are copied as they are.
func mergeApp(apps []y360.ServiceApp, clientID string, need []string) ([]y360.ServiceApp, bool) {
	out := make([]y360.ServiceApp, 0, len(apps)+1)
	found, changed := false, false
	for _, a := range apps {
		a.Scopes = slices.Clone(a.Scopes)
		if a.ID == clientID {
			found = true
			for _, s := range need {
				if !slices.Contains(a.Scopes, s) {
					a.Scopes = append(a.Scopes, s)
					changed = true
				}
			}
		}
		out = append(out, a)
	}
	if !found {
		out = append(out, y360.ServiceApp{ID: clientID, Scopes: slices.Clone(need)})
		changed = true
	}
	return out, changed
}

func scopesOf(apps []y360.ServiceApp, id string) []string {
	for _, a := range apps {
		if a.ID == id {
			return a.Scopes
		}
	}
	return nil
}

// missingScopes returns the scopes of need not in have (nil if none).
func missingScopes(have, need []string) []string {
	var m []string
	for _, s := range need {
		if !slices.Contains(have, s) {
			m = append(m, s)
		}
	}
	return m
}

// lostApps names apps of before that are gone or lost scopes in after.
func lostApps(before, after []y360.ServiceApp) []string {
	var lost []string
	for _, a := range before {
		if missing := missingScopes(scopesOf(after, a.ID), a.Scopes); missing != nil || !slices.ContainsFunc(after, func(b y360.ServiceApp) bool { return b.ID == a.ID }) {
			lost = append(lost, a.ID)
		}
	}
	return lost
}

// pickUser finds want (email or uid) or else the first user the config would back up.
func pickUser(ctx context.Context, org *y360.Client, cfg *config.Config, want string) (sources.User, error) {
	var found sources.User
	stop := errors.New("found")
	filter := userFilter(cfg)
	err := org.ListUsers(ctx, func(u sources.User) error {
		if want != "" {
			if strings.EqualFold(u.Email, want) || u.ID == want {
				found = u
				return stop
			}
			return nil
		}
		if ok, _ := filter(u); ok {
			found = u
			return stop
		}
		return nil
	})
	switch {
	case errors.Is(err, stop):
		return found, nil
	case err != nil:
		return found, fmt.Errorf("list users: %w", err)
	case want != "":
		return found, fmt.Errorf("no user %q in the organization", want)
	}
	return found, errors.New("the organization has no user the config selects")
}

func isFeatureInactive(err error) bool {
	var e *y360.APIError
	return errors.As(err, &e) && strings.Contains(strings.ToLower(e.Message+" "+e.Description), "not active")
}

func isNotOwner(err error) bool {
	var e *y360.APIError
	return errors.As(err, &e) && strings.Contains(strings.ToLower(e.Message), "not an owner")
}

// ownerFix says what to do about a refused service-application call.
func ownerFix(err error) string {
	switch {
	case isNotOwner(err):
		return "only the organization's owner may manage service applications: use the owner's token " +
			"(with " + scopeAppsWrite + ") via --owner-token-file"
	case y360.IsUnauthorized(err):
		return "the token is invalid or expired: get a new one (y360backup auth login)"
	case isFeatureInactive(err):
		return "activate service applications: run y360backup setup as the owner (the org's plan must include them)"
	}
	return "check organization.id and the token"
}

// printer writes ✓/✗ lines. ✗ lines carry what to do.
type printer struct {
	out    io.Writer
	failed int
}

func (p *printer) ok(what, detail string)   { fmt.Fprintf(p.out, "✓ %s: %s\n", what, detail) }
func (p *printer) skip(what, detail string) { fmt.Fprintf(p.out, "– %s: %s\n", what, detail) }
func (p *printer) note(what, detail string) { fmt.Fprintf(p.out, "→ %s: %s\n", what, detail) }
func (p *printer) bad(what, detail, fix string) {
	p.failed++
	fmt.Fprintf(p.out, "✗ %s: %s\n", what, detail)
	if fix != "" {
		fmt.Fprintf(p.out, "    what to do: %s\n", fix)
	}
}
