package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sinks"
	s3sink "github.com/y360backup/y360backup/sinks/s3"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/mail"
	"github.com/y360backup/y360backup/sources/y360"
)

type doctorOptions struct {
	user    string
	timeout time.Duration
}

func newDoctorCommand(g *globalOptions) *cobra.Command {
	var opts doctorOptions
	cmd := &cobra.Command{
		Use: "doctor",
		Example: `  y360backup doctor
  y360backup doctor -u alice@example.com --timeout 1m`,
		Short: "Check every link a backup needs and say exactly what is wrong",
		Long: `Checks, in order: the admin token (its scopes), the Directory API (first page
of users), one user's token exchange and its scopes, an IMAP login (XOAUTH2 and
LIST), a CalDAV PROPFIND on the user's principal, Disk GET /v1/disk, and a
write/read/delete probe in the repository. Prints ✓ or ✗ per link, with what to
do for each ✗, and exits non-zero if any link is broken. Nothing is changed
except the probe object, which is deleted again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			return runDoctor(cmd.Context(), cfg, opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&opts.user, "user", "u", "", "user (email or uid) for the per-user checks (default: the first one the config selects)")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", 30*time.Second, "time limit of each check")
	return cmd
}

// errDoctor means at least one link is broken (the details were printed);
// it exits 3, as a run that could not happen.
var errDoctor = errors.New("doctor found problems")

func runDoctor(ctx context.Context, cfg *config.Config, opts doctorOptions, out io.Writer) error {
	if opts.timeout <= 0 {
		opts.timeout = 30 * time.Second
	}
	p := &printer{out: out}
	show, showText := func(s string) string { return s }, func(s string) string { return s }
	if cfg.Log.MaskEmails {
		m := emailMasker(cfg)
		show, showText = m.Email, m.Text
	}
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, opts.timeout) }
	org, err := newOrgClient(cfg, nil)
	if err != nil {
		return err
	}

	// Admin token.
	c, cancel := step()
	id, err := org.Whoami(c)
	cancel()
	switch {
	case err == nil && !id.HasScope(scopeUsersRead) && !id.HasScope("directory:write_users"):
		p.bad("admin token", fmt.Sprintf("token of %s lacks %s (has: %s)", show(id.Login), scopeUsersRead, strings.Join(id.Scopes, " ")),
			"issue a token with directory:read_users for an org admin (y360backup auth login) and set organization.admin_token")
	case err == nil:
		p.ok("admin token", fmt.Sprintf("token of %s, scopes %s", show(id.Login), strings.Join(id.Scopes, " ")))
	case y360.IsUnauthorized(err):
		p.bad("admin token", err.Error(), "the token is invalid or expired: get a new one (y360backup auth login) and update organization.admin_token")
	case y360.IsNotFound(err):
		p.skip("admin token", "this server has no /whoami; the Directory check below tests the token")
	default:
		p.bad("admin token", err.Error(), "check api.directory_url and the network path to it")
	}
	checkOrgScopes(p, cfg, id, err)

	// Directory and the test user.
	c, cancel = step()
	u, err := pickUser(c, org, cfg, opts.user)
	cancel()
	var haveUser bool
	switch {
	case err == nil:
		haveUser = true
		p.ok("Directory", fmt.Sprintf("users listed; checking with %s (uid %s)", show(u.Email), u.ID))
	case strings.Contains(err.Error(), "list users"):
		p.bad("Directory", err.Error(), directoryFix(err, cfg))
	default:
		p.bad("Directory", err.Error(), "pass an existing user with --user, or check users.include/exclude")
	}

	// Service applications (informational, needs the owner's read scope).
	if id.HasScope(scopeAppsRead) {
		c, cancel = step()
		apps, err := org.ListServiceApps(c)
		cancel()
		switch {
		case err == nil && missingScopes(scopesOf(apps, cfg.Organization.ClientID), neededScopes(cfg)) != nil:
			p.bad("service application", fmt.Sprintf("%s is listed with %q; missing %s", cfg.Organization.ClientID,
				strings.Join(scopesOf(apps, cfg.Organization.ClientID), " "),
				strings.Join(missingScopes(scopesOf(apps, cfg.Organization.ClientID), neededScopes(cfg)), " ")),
				"run y360backup setup as the organization's owner")
		case err == nil:
			p.ok("service application", cfg.Organization.ClientID+" is listed with the needed scopes")
		case isFeatureInactive(err):
			p.bad("service application", "service applications are not active in the organization", "run y360backup setup as the organization's owner")
		case isNotOwner(err):
			p.skip("service application", "the admin token is not the owner's; skipped (the token exchange below tests it)")
		default:
			p.bad("service application", err.Error(), ownerFix(err))
		}
	}

	// One user's token.
	var tok y360.Token
	if haveUser {
		c, cancel = step()
		tok, err = org.ExchangeToken(c, u)
		cancel()
		if err != nil {
			p.bad("token exchange", err.Error(), exchangeFix(err))
		} else if missing := missingScopes(strings.Fields(tok.Scope), neededScopes(cfg)); tok.Scope != "" && missing != nil {
			p.bad("token exchange", fmt.Sprintf("token for %s lacks %s (has: %s)", show(u.Email), strings.Join(missing, " "), tok.Scope),
				"add the scopes to the OAuth app at oauth.yandex.ru and to its service-application entry (y360backup setup)")
		} else {
			p.ok("token exchange", fmt.Sprintf("token for %s, valid %s, scopes %s", show(u.Email), tok.ExpiresIn, tok.Scope))
		}
	}
	haveTok := tok.AccessToken != ""
	skipNoTok := func(what string) {
		p.skip(what, "skipped: no user token (see above)")
	}

	if config.On(cfg.Sources.Mail.Enabled) {
		if haveTok {
			c, cancel = step()
			n, err := probeIMAP(c, cfg, u, tok.AccessToken)
			cancel()
			if err != nil {
				p.bad("IMAP login", showText(err.Error()), imapFix(err, cfg)) // the error names the user
			} else {
				p.ok("IMAP login", fmt.Sprintf("%s: XOAUTH2 accepted, %d folder(s) listed", cfg.Sources.Mail.Addr, n))
			}
		} else {
			skipNoTok("IMAP login")
		}
	}
	if config.On(cfg.Sources.Calendar.Enabled) {
		if haveTok {
			c, cancel = step()
			principal, err := probeCalDAV(c, cfg.Sources.Calendar, u.Email, tok.AccessToken)
			cancel()
			if err != nil {
				p.bad("CalDAV", err.Error(), httpFix(err, "calendar:all", "sources.calendar.url"))
			} else {
				p.ok("CalDAV", "PROPFIND on the principal "+showText(principal)+" answered 207")
			}
		} else {
			skipNoTok("CalDAV")
		}
	}
	if cfg.ContactsOn() {
		if haveTok {
			c, cancel = step()
			detail, err := probeContacts(c, cfg, u, tok.AccessToken)
			cancel()
			if err != nil {
				p.bad("CardDAV", showText(err.Error()), contactsFix(err, cfg))
			} else {
				p.ok("CardDAV", detail)
			}
		} else {
			skipNoTok("CardDAV")
		}
	}
	if config.On(cfg.Sources.Disk.Enabled) {
		if haveTok {
			c, cancel = step()
			info, err := probeDisk(c, org, cfg.Sources.Disk.URL, tok.AccessToken)
			cancel()
			if err != nil {
				p.bad("Disk", err.Error(), httpFix(err, "cloud_api:disk.read and cloud_api:disk.info", "sources.disk.url"))
			} else {
				p.ok("Disk", "GET /v1/disk answered: "+info)
			}
		} else {
			skipNoTok("Disk")
		}
	}

	// Repository.
	c, cancel = step()
	detail, err := probeRepository(c, cfg)
	cancel()
	if err != nil {
		p.bad("repository", err.Error(), repoFix(cfg))
	} else {
		p.ok("repository", detail)
	}

	if p.failed > 0 {
		return fmt.Errorf("%w: %d link(s) broken", errDoctor, p.failed)
	}
	fmt.Fprintln(out, "\nAll links work.")
	return nil
}

func directoryFix(err error, cfg *config.Config) string {
	var e *y360.APIError
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		return "the admin token's user must be an admin of organization " + cfg.Organization.ID + " (check organization.id too)"
	}
	if y360.IsUnauthorized(err) {
		return "the admin token is invalid or expired (y360backup auth login)"
	}
	return "check api.directory_url and the network path to it"
}

func exchangeFix(err error) string {
	var e *y360.APIError
	if errors.As(err, &e) && e.Hint != "" {
		return "follow the hint at the end of the error above"
	}
	return "check organization.client_id/client_secret and api.oauth_url; run y360backup setup as the owner"
}

func imapFix(err error, cfg *config.Config) string {
	if strings.Contains(err.Error(), "AUTHENTICATIONFAILED") || strings.Contains(strings.ToLower(err.Error()), "authentication") {
		return "the server refused the user's token: the service application needs scope mail:imap_ro, " +
			"and IMAP access with OAuth must be allowed for the org (admin console → Mail → mail clients)"
	}
	return "check sources.mail.addr (" + cfg.Sources.Mail.Addr + ") and security (" + cfg.Sources.Mail.Security + ") and the network path"
}

func httpFix(err error, scope, key string) string {
	var se *statusError
	if errors.As(err, &se) {
		switch se.code {
		case http.StatusUnauthorized, http.StatusForbidden:
			return "the server refused the user's token: the service application needs scope " + scope
		case http.StatusNotFound:
			return "wrong URL: check " + key
		}
	}
	if y360.IsUnauthorized(err) {
		return "the server refused the user's token: the service application needs scope " + scope
	}
	return "check " + key + " and the network path to it"
}

func repoFix(cfg *config.Config) string {
	if cfg.Repository.Type == "s3" {
		return "check repository.s3 (bucket, endpoint, region, credentials) and that the key may put, get, list and delete under the prefix"
	}
	return "check that repository.path exists and is writable by this user (under systemd: StateDirectory/ReadWritePaths)"
}

type statusError struct {
	what string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s", e.what, e.code, http.StatusText(e.code))
}

// probeIMAP logs in with XOAUTH2 and lists the folders, exactly as the mail
// source connects (the configured security, ca_file, timeouts).
func probeIMAP(ctx context.Context, cfg *config.Config, u sources.User, token string) (int, error) {
	src, err := mailSource(cfg)
	if err != nil {
		return 0, err
	}
	ms, ok := src.(*mail.Source)
	if !ok {
		return 0, fmt.Errorf("mail source is %T", src)
	}
	return mail.Probe(ctx, ms.Config(), u, fixedToken(token))
}

// fixedToken is the one token doctor minted; Invalidate has nothing to drop.
type fixedToken string

func (t fixedToken) Token(context.Context) (string, error) { return string(t), nil }
func (fixedToken) Invalidate(string)                       {}

// probeCalDAV asks the context URL for the current user's principal and
// then PROPFINDs the principal for its calendar home.
func probeCalDAV(ctx context.Context, cal config.Calendar, email, token string) (string, error) {
	base, err := url.Parse(cal.URL)
	if err != nil {
		return "", err
	}
	auth := "OAuth " + token
	if cal.Auth == "basic" {
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+token))
	}
	propfind := func(u *url.URL, prop string) (string, error) {
		body := `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>` + prop + `</d:prop></d:propfind>`
		req, err := http.NewRequestWithContext(ctx, "PROPFIND", u.String(), strings.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("Depth", "0")
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", fmt.Errorf("PROPFIND %s: %w", u.Path, stripURLError(err))
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusMultiStatus {
			return "", &statusError{what: "PROPFIND " + u.Path, code: resp.StatusCode}
		}
		return firstHref(b), nil
	}
	principal, err := propfind(base, "<d:current-user-principal/>")
	if err != nil {
		return "", err
	}
	if principal == "" {
		return "", fmt.Errorf("PROPFIND %s: the answer names no current-user-principal", base.Path)
	}
	pu, err := base.Parse(principal)
	if err != nil {
		return "", fmt.Errorf("principal %q: %w", principal, err)
	}
	if _, err := propfind(pu, "<c:calendar-home-set/>"); err != nil {
		return "", err
	}
	return pu.Path, nil
}

// firstHref returns the href inside current-user-principal (or "").
func firstHref(b []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(b))
	inPrincipal := false
	for {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		switch e := t.(type) {
		case xml.StartElement:
			if e.Name.Local == "current-user-principal" {
				inPrincipal = true
			}
			if inPrincipal && e.Name.Local == "href" {
				var s string
				if dec.DecodeElement(&s, &e) == nil {
					return strings.TrimSpace(s)
				}
			}
		case xml.EndElement:
			if e.Name.Local == "current-user-principal" {
				inPrincipal = false
			}
		}
	}
}

// probeDisk calls GET /v1/disk with the user's token.
func probeDisk(ctx context.Context, org *y360.Client, base, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/disk", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "OAuth "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := org.Doer().DoOnce(ctx, req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var info struct {
		Total int64 `json:"total_space"`
		Used  int64 `json:"used_space"`
	}
	if err := decodeJSONLimited(resp.Body, &info); err != nil {
		return "", fmt.Errorf("GET /v1/disk: %w", err)
	}
	return fmt.Sprintf("%s used of %s", humanBytes(info.Used), humanBytes(info.Total)), nil
}

// probeRepository proves the sink can be written, read, listed and
// cleaned: s3 has its own Check; other sinks get a probe under locks/.
func probeRepository(ctx context.Context, cfg *config.Config) (string, error) {
	sink, err := openSink(ctx, cfg)
	if err != nil {
		return "", err
	}
	if s, ok := sink.(*s3sink.Sink); ok {
		res, err := s.Check(ctx)
		if err != nil {
			return "", err
		}
		cw := "conditional writes honoured"
		if !res.ConditionalWrites {
			cw = "no conditional writes (HEAD-before-PUT fallback)"
		}
		return fmt.Sprintf("s3 bucket %s: put/get/list/delete work, %s (%s)", cfg.Repository.S3.Bucket, cw, res.Elapsed.Round(time.Millisecond)), nil
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	key := "locks/.doctor-" + hex.EncodeToString(rnd[:])
	data := []byte("y360backup doctor probe")
	if err := sink.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return "", fmt.Errorf("write %s: %w", key, err)
	}
	defer sink.Delete(context.WithoutCancel(ctx), key)
	rc, err := sink.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		return "", fmt.Errorf("read %s: got %d bytes back, %v", key, len(got), err)
	}
	if err := sink.Delete(ctx, key); err != nil {
		return "", fmt.Errorf("delete %s: %w", key, err)
	}
	if _, err := sink.Stat(ctx, key); !errors.Is(err, sinks.ErrNotExist) {
		return "", fmt.Errorf("delete %s: the probe is still there (%v)", key, err)
	}
	state := "holds a repository"
	if r, err := backup.Open(ctx, sink, backup.RepoOptions{SpoolDir: cfg.SpoolDir}); errors.Is(err, backup.ErrNoRepository) {
		state = "empty: the first backup creates the repository"
	} else if err != nil {
		return "", err
	} else {
		r.Close()
	}
	return fmt.Sprintf("%s %s: write, read and delete work; %s", cfg.Repository.Type, cfg.Repository.Path, state), nil
}

func stripURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func decodeJSONLimited(r io.Reader, v any) error {
	return json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(v)
}
