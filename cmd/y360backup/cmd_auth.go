package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup/config"
)

// Yandex OAuth endpoints for the authorization-code flow.
const (
	defaultAuthorizeURL = "https://oauth.yandex.ru/authorize"
	defaultTokenURL     = "https://oauth.yandex.ru/token"
)

type authOptions struct {
	clientID         string
	clientSecretFile string
	authorizeURL     string
	tokenURL         string
	port             int
	scopes           []string
	tokenFile        string
	timeout          time.Duration
	// openURL is called with the URL the user must open (tests follow it).
	openURL func(string)
}

func newAuthCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use: "auth",
		Example: `  y360backup auth login --client-id ID --client-secret-file client-secret --token-file admin-token
  y360backup auth refresh --token-file /etc/y360backup/admin-token`,
		Short: "Obtain or refresh the admin OAuth token (authorization-code flow)",
	}
	var opts authOptions
	flags := func(c *cobra.Command) {
		c.Flags().StringVar(&opts.clientID, "client-id", "", "OAuth app client id (default: organization.client_id)")
		c.Flags().StringVar(&opts.clientSecretFile, "client-secret-file", "", "file holding the app's client secret (default: organization.client_secret)")
		c.Flags().StringVar(&opts.tokenURL, "token-url", "", "token endpoint (default: api.oauth_url or "+defaultTokenURL+")")
		c.Flags().StringVar(&opts.tokenFile, "token-file", "", "where the access token is saved, mode 0600 (default: organization.admin_token_file)")
	}
	login := &cobra.Command{
		Use: "login",
		Example: `  y360backup auth login                      # ids and files from the config
  y360backup auth login --port 9000 --scope directory:read_users --scope directory:read_organization
  y360backup auth login --client-id ID --client-secret-file client-secret --token-file admin-token`,
		Short: "Open Yandex's consent page, receive the code on a local callback and save the token",
		Long: `Runs the OAuth authorization-code flow (with PKCE) against Yandex ID:
prints a URL to open in a browser where an organization admin (or the owner, for
setup) signs in and allows access; Yandex redirects to
http://127.0.0.1:<port>/callback, which this command serves. The code is exchanged
for a token that is written to --token-file with mode 0600 (the format
organization.admin_token_file reads); a refresh token, when Yandex issues one, goes
to <token-file>.refresh.json (0600) for 'auth refresh'. Register the callback URL
as a Redirect URI of the OAuth app at oauth.yandex.ru. Tokens are never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fillAuthDefaults(g, &opts); err != nil {
				return err
			}
			secret, err := readClientSecret(g, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			opts.openURL = func(u string) {
				fmt.Fprintf(out, "Open this URL in a browser and allow access:\n\n  %s\n\nWaiting for the redirect...\n", u)
			}
			return authLogin(cmd.Context(), opts, secret, out)
		},
	}
	flags(login)
	login.Flags().StringVar(&opts.authorizeURL, "authorize-url", defaultAuthorizeURL, "authorization endpoint")
	login.Flags().IntVar(&opts.port, "port", 8765, "local callback port (http://127.0.0.1:<port>/callback must be a Redirect URI of the app)")
	login.Flags().StringArrayVar(&opts.scopes, "scope", nil, "scope to request; repeatable (default: every scope of the app), e.g. directory:read_users")
	login.Flags().DurationVar(&opts.timeout, "timeout", 10*time.Minute, "how long to wait for the browser")
	refresh := &cobra.Command{
		Use: "refresh",
		Example: `  y360backup auth refresh                    # token file from the config
  y360backup auth refresh --token-file /etc/y360backup/admin-token && systemctl reload y360backup`,
		Short: "Exchange the saved refresh token for a new access token",
		Long: `Reads <token-file>.refresh.json written by 'auth login', obtains a new access
token (and refresh token, if Yandex rotates it) and replaces both files, mode 0600.
A running daemon picks the new token up on SIGHUP (systemctl reload y360backup).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fillAuthDefaults(g, &opts); err != nil {
				return err
			}
			secret, err := readClientSecret(g, opts)
			if err != nil {
				return err
			}
			return authRefresh(cmd.Context(), opts, secret, cmd.OutOrStdout())
		},
	}
	flags(refresh)
	cmd.AddCommand(login, refresh)
	return cmd
}

// authConfig loads the config if it loads (it may not yet: the admin token
// file is what `auth login` creates).
func authConfig(g *globalOptions) *config.Config {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil
	}
	return cfg
}

func fillAuthDefaults(g *globalOptions, o *authOptions) error {
	cfg := authConfig(g)
	if cfg != nil {
		if o.clientID == "" {
			o.clientID = cfg.Organization.ClientID
		}
		if o.tokenURL == "" {
			o.tokenURL = cfg.API.OAuthURL
		}
		if o.tokenFile == "" {
			o.tokenFile = cfg.Organization.AdminTokenFile
		}
	}
	if o.tokenURL == "" {
		o.tokenURL = defaultTokenURL
	}
	switch {
	case o.clientID == "":
		return fmt.Errorf("%w: --client-id is required (or a loadable config with organization.client_id)", errUsage)
	case o.tokenFile == "":
		return fmt.Errorf("%w: --token-file is required (or organization.admin_token_file in the config)", errUsage)
	}
	return nil
}

func readClientSecret(g *globalOptions, o authOptions) (string, error) {
	if o.clientSecretFile != "" {
		b, err := os.ReadFile(o.clientSecretFile)
		if err != nil {
			return "", fmt.Errorf("%w: --client-secret-file: %v", errUsage, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if cfg := authConfig(g); cfg != nil && cfg.Organization.ClientSecret != "" {
		return cfg.Organization.ClientSecret, nil
	}
	return "", fmt.Errorf("%w: --client-secret-file is required (or a loadable config with organization.client_secret)", errUsage)
}

// tokenAnswer is the token endpoint's JSON (RFC 6749 §5).
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// refreshFile is what <token-file>.refresh.json holds.
type refreshFile struct {
	RefreshToken string    `json:"refresh_token"`
	ClientID     string    `json:"client_id"`
	TokenURL     string    `json:"token_url"`
	Scope        string    `json:"scope,omitempty"`
	Expires      time.Time `json:"access_token_expires,omitzero"`
}

func authLogin(ctx context.Context, o authOptions, secret string, out io.Writer) error {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.port))
	if err != nil {
		return fmt.Errorf("auth: callback listener on 127.0.0.1:%d: %w", o.port, err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	state, verifier := randomString(24), randomString(48)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {o.clientID},
		"redirect_uri":          {redirect},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	if len(o.scopes) > 0 {
		q.Set("scope", strings.Join(o.scopes, " "))
	}
	authURL := o.authorizeURL + "?" + q.Encode()

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		qs := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(qs.Get("state")), []byte(state)) != 1:
			http.Error(w, "state does not match this login; start again", http.StatusBadRequest)
			return // not ours: keep waiting
		case qs.Get("error") != "":
			res.err = fmt.Errorf("auth: Yandex refused: %s %s", qs.Get("error"), qs.Get("error_description"))
		case qs.Get("code") == "":
			res.err = errors.New("auth: the redirect carried no code")
		default:
			res.code = qs.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Done: y360backup received the authorization. You can close this tab."
		if res.err != nil {
			msg = "Failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>y360backup</title><p>%s</p>\n", html.EscapeString(msg))
		select {
		case got <- res:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	if o.openURL != nil {
		o.openURL(authURL)
	}
	timeout := o.timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var res result
	select {
	case res = <-got:
	case <-t.C:
		return fmt.Errorf("auth: no redirect within %s", timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	if res.err != nil {
		return res.err
	}
	ans, err := tokenRequest(ctx, o.tokenURL, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.code},
		"redirect_uri":  {redirect},
		"code_verifier": {verifier},
		"client_id":     {o.clientID},
		"client_secret": {secret},
	})
	if err != nil {
		return err
	}
	return saveTokens(o, ans, out)
}

func authRefresh(ctx context.Context, o authOptions, secret string, out io.Writer) error {
	b, err := os.ReadFile(o.tokenFile + ".refresh.json")
	if err != nil {
		return fmt.Errorf("auth: %w (run 'y360backup auth login' first; Yandex issues refresh tokens only to some apps)", err)
	}
	var rf refreshFile
	if err := json.Unmarshal(b, &rf); err != nil || rf.RefreshToken == "" {
		return fmt.Errorf("auth: %s.refresh.json holds no refresh token", o.tokenFile)
	}
	if rf.TokenURL != "" && o.tokenURL == defaultTokenURL {
		o.tokenURL = rf.TokenURL
	}
	ans, err := tokenRequest(ctx, o.tokenURL, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {rf.RefreshToken},
		"client_id":     {o.clientID},
		"client_secret": {secret},
	})
	if err != nil {
		return err
	}
	if ans.RefreshToken == "" {
		ans.RefreshToken = rf.RefreshToken // not rotated: keep the old one
	}
	return saveTokens(o, ans, out)
}

// tokenRequest posts a grant to the token endpoint. Errors never carry the
// form (it holds the code, secret or refresh token).
func tokenRequest(ctx context.Context, tokenURL string, form url.Values) (tokenAnswer, error) {
	var ans tokenAnswer
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return ans, fmt.Errorf("auth: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ans, fmt.Errorf("auth: POST %s: %w", req.URL.Host+req.URL.Path, stripURLError(err))
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil && resp.StatusCode == http.StatusOK {
		return ans, fmt.Errorf("auth: token answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || ans.AccessToken == "" {
		msg := strings.TrimSpace(ans.Error + " " + ans.Description)
		if msg == "" {
			msg = "no access_token in the answer"
		}
		return ans, fmt.Errorf("auth: token endpoint answered %d: %s", resp.StatusCode, msg)
	}
	return ans, nil
}

func saveTokens(o authOptions, ans tokenAnswer, out io.Writer) error {
	if err := writeSecret(o.tokenFile, []byte(ans.AccessToken+"\n")); err != nil {
		return err
	}
	expires := ""
	var exp time.Time
	if ans.ExpiresIn > 0 {
		exp = time.Now().Add(time.Duration(ans.ExpiresIn) * time.Second).UTC()
		expires = ", expires " + exp.Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(out, "Access token saved to %s (mode 0600%s).\n", o.tokenFile, expires)
	if ans.RefreshToken != "" {
		b, _ := json.MarshalIndent(refreshFile{RefreshToken: ans.RefreshToken, ClientID: o.clientID, TokenURL: o.tokenURL,
			Scope: ans.Scope, Expires: exp}, "", "  ")
		if err := writeSecret(o.tokenFile+".refresh.json", append(b, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(out, "Refresh token saved to %s.refresh.json (mode 0600): renew with 'y360backup auth refresh'.\n", o.tokenFile)
	}
	if ans.Scope != "" {
		fmt.Fprintf(out, "Scopes: %s\n", ans.Scope)
	}
	return nil
}

// writeSecret replaces file atomically with data, mode 0600 from the start.
func writeSecret(file string, data []byte) error {
	dir := filepath.Dir(file)
	f, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("auth: save token: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("auth: save token: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("auth: save token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("auth: save token: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("auth: save token: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("auth: save token: %w", err)
	}
	return nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
