package y360

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360/api"
)

// Token exchange constants (docs/yandex-api.md §2).
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	SubjectTypeUID         = "urn:yandex:params:oauth:token-type:uid"
	SubjectTypeEmail       = "urn:yandex:params:oauth:token-type:email"
)

// ErrNoServiceApp is returned by token calls when Config has no client id/secret.
var ErrNoServiceApp = errors.New("y360: no service application configured (client_id/client_secret are empty)")

// Token is one minted per-user access token.
type Token struct {
	AccessToken string
	ExpiresIn   time.Duration // lifetime the server announced
	Scope       string        // space-separated scopes, as returned
	Obtained    time.Time     // client clock just before the request was sent
}

// String never shows the token itself.
// maxTokenAnswer bounds a token endpoint's JSON (a few hundred bytes).
const maxTokenAnswer = 1 << 20

func (t Token) String() string {
	return fmt.Sprintf("y360.Token{expires_in:%s scope:%q}", t.ExpiresIn, t.Scope)
}

// ExchangeToken mints a fresh token for u with the service application's
// credentials: subject = uid first; if Yandex answers that this subject is
// unknown and u has an email, it retries once with the email form. Failures
// come back as *APIError carrying a Hint for the administrator. Most callers
// want Tokens(u), which caches.
func (c *Client) ExchangeToken(ctx context.Context, u sources.User) (Token, error) {
	if c.cfg.ClientID == "" {
		return Token{}, ErrNoServiceApp
	}
	subject, kind := u.ID, SubjectTypeUID
	if subject == "" {
		subject, kind = u.Email, SubjectTypeEmail
	}
	if subject == "" {
		return Token{}, errors.New("y360: token exchange: user has neither id nor email")
	}
	tok, err := c.exchange(ctx, subject, kind)
	if err != nil && kind == SubjectTypeUID && u.Email != "" && suggestsUnknownSubject(err) {
		tok, err = c.exchange(ctx, u.Email, SubjectTypeEmail)
	}
	if err != nil {
		return Token{}, fmt.Errorf("y360: token exchange for user %s: %w", userRef(u), explainExchange(err))
	}
	return tok, nil
}

// userRef names a user in errors by uid (emails may be masked by the operator's logs).
func userRef(u sources.User) string {
	if u.ID != "" {
		return "uid " + u.ID
	}
	return "<no uid>"
}

func (c *Client) exchange(ctx context.Context, subject, kind string) (Token, error) {
	form := url.Values{
		"grant_type":         {GrantTypeTokenExchange},
		"client_id":          {c.cfg.ClientID},
		"client_secret":      {c.cfg.ClientSecret},
		"subject_token":      {subject},
		"subject_token_type": {kind},
	}
	if len(c.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	// strings.Reader body: http.NewRequest sets GetBody, so the Doer can replay it.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.OAuthURL, strings.NewReader(form.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("y360: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	obtained := c.cfg.Now()
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return Token{}, err
	}
	defer drainClose(resp.Body)
	var tr api.TokenResponse
	body := &io.LimitedReader{R: resp.Body, N: maxTokenAnswer}
	if err := json.NewDecoder(body).Decode(&tr); err != nil {
		if body.N <= 0 {
			err = fmt.Errorf("larger than %d KiB", maxTokenAnswer>>10)
		}
		return Token{}, fmt.Errorf("y360: token answer: %w", err)
	}
	if tr.AccessToken == "" {
		return Token{}, errors.New("y360: token answer has no access_token")
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = sources.TokenLifetime
	}
	return Token{AccessToken: tr.AccessToken, ExpiresIn: life, Scope: tr.Scope, Obtained: obtained}, nil
}

// exchangeCause classifies a refused token exchange. The OAuth error codes
// Yandex uses for these cases are not documented (yandex-api.md §2 marks them
// UNCONFIRMED), so both the code and the description's words count.
type exchangeCause int

const (
	causeOther exchangeCause = iota
	causeBadClient
	causeFeatureInactive
	causeNotServiceApp
	causeScope
	causeBlocked
	causeUnknownUser
)

func classifyExchange(e *APIError) exchangeCause {
	desc := strings.ToLower(e.Description + " " + e.Message)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(desc, w) {
				return true
			}
		}
		return false
	}
	switch {
	case e.Name == "invalid_client":
		return causeBadClient
	case e.Name == "invalid_scope":
		return causeScope
	case has("not active", "not activated", "is not enabled"):
		return causeFeatureInactive
	case e.Name == "unauthorized_client" || has("service application", "service app", "not allowed for this client"):
		return causeNotServiceApp
	case has("scope"):
		return causeScope
	case has("block", "disabled", "dismissed"):
		return causeBlocked
	case e.Name == "invalid_grant" || e.Name == "invalid_request" || e.Name == "invalid_target" ||
		e.Status == http.StatusNotFound || has("not found", "unknown", "no such", "subject"):
		if e.Status == http.StatusBadRequest || e.Status == http.StatusNotFound || e.Status == http.StatusUnauthorized {
			return causeUnknownUser
		}
	}
	return causeOther
}

// suggestsUnknownSubject: the uid form was refused because Yandex does not
// know that subject, so the email form is worth one try.
func suggestsUnknownSubject(err error) bool {
	var e *APIError
	return errors.As(err, &e) && classifyExchange(e) == causeUnknownUser
}

// hintFor is what an administrator should check for each cause.
func hintFor(c exchangeCause) string {
	switch c {
	case causeBadClient:
		return "the service application's client_id or client_secret is wrong: " +
			"compare client_id/client_secret in the config with the app at oauth.yandex.ru"
	case causeFeatureInactive:
		return "service applications are not active in this organization: an org owner must " +
			"activate them (y360backup setup, or admin console → Security → Service applications); the org's plan must include them"
	case causeNotServiceApp:
		return "the OAuth app is not in this organization's service-application list: add its client_id " +
			"with the needed scopes (y360backup setup, or admin console → Security → Service applications)"
	case causeScope:
		return "a scope the backup needs is not granted to the service application: add mail:imap_ro, " +
			"calendar:all, cloud_api:disk.read (and cloud_api:disk.info) to the app and to its service-application entry"
	case causeBlocked:
		return "the user is blocked in the organization: unblock them or exclude them from the backup"
	case causeUnknownUser:
		return "the user is not known to Yandex ID for this organization (deleted, or another org_id?)"
	}
	return ""
}

// explainExchange adds the administrator hint to a token-exchange APIError.
func explainExchange(err error) error {
	var e *APIError
	if !errors.As(err, &e) {
		return err
	}
	if e.Hint == "" {
		e.Hint = hintFor(classifyExchange(e))
	}
	return err
}
