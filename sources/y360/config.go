package y360

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default endpoints of the real service.
const (
	DefaultAPIBase  = "https://api360.yandex.net"
	DefaultOAuthURL = "https://oauth.yandex.ru/token"
)

// Config describes one organization and the service application used to
// mint per-user tokens. The zero value of every optional field means its default.
type Config struct {
	OrgID      string // organization id (digits), required
	AdminToken string // admin OAuth token with directory:read_users (+ ya360_security:* for setup), required

	// Service application (OAuth app registered at oauth.yandex.ru and listed in
	// the org's service applications). Both or neither; without them the
	// directory calls work and token exchange fails with a clear error.
	ClientID     string
	ClientSecret string
	// Scopes, if set, is sent as the optional "scope" of the token exchange
	// (space-separated); empty lets Yandex grant every scope of the app.
	Scopes []string

	APIBase    string       // default DefaultAPIBase; "/whoami", "/directory/..." are appended
	OAuthURL   string       // default DefaultOAuthURL (full URL of the token endpoint)
	HTTPClient *http.Client // default: a client with a 2-minute timeout

	RPS        float64 // requests per second per host; 0 = DefaultRPS, < 0 = unlimited
	MaxRetries int     // retries after the first attempt; 0 = DefaultMaxRetries, < 0 = none
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// Now is the clock used for token expiry (tests inject a fake); nil = time.Now.
	Now func() time.Time
	// Doer, if set, is used instead of building one from HTTPClient/RPS/MaxRetries,
	// so several clients (or sources/disk) can share one rate limit.
	Doer *Doer
}

// String masks the secrets so a Config printed by mistake leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("y360.Config{OrgID:%s AdminToken:%s ClientID:%s ClientSecret:%s APIBase:%s OAuthURL:%s RPS:%g MaxRetries:%d}",
		c.OrgID, mask(c.AdminToken), c.ClientID, mask(c.ClientSecret), c.APIBase, c.OAuthURL, c.RPS, c.MaxRetries)
}

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

func mask(s string) string {
	if s == "" {
		return `""`
	}
	return "***"
}

// withDefaults returns c with defaults filled in, or an error naming the
// first field that is wrong.
func (c Config) withDefaults() (Config, error) {
	c.OrgID = strings.TrimSpace(c.OrgID)
	if c.OrgID == "" {
		return c, errors.New("y360: config: org_id is required")
	}
	for _, r := range c.OrgID {
		if r < '0' || r > '9' {
			return c, fmt.Errorf("y360: config: org_id %q must be digits only", c.OrgID)
		}
	}
	if c.AdminToken == "" {
		return c, errors.New("y360: config: admin token is required")
	}
	if (c.ClientID == "") != (c.ClientSecret == "") {
		return c, errors.New("y360: config: client_id and client_secret must be set together")
	}
	if c.APIBase == "" {
		c.APIBase = DefaultAPIBase
	}
	c.APIBase = strings.TrimRight(c.APIBase, "/")
	if c.OAuthURL == "" {
		c.OAuthURL = DefaultOAuthURL
	}
	for name, v := range map[string]string{"api_base": c.APIBase, "oauth_url": c.OAuthURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return c, fmt.Errorf("y360: config: %s %q is not an absolute http(s) URL", name, v)
		}
		if u.User != nil || u.RawQuery != "" {
			return c, fmt.Errorf("y360: config: %s must not carry credentials or a query", name)
		}
	}
	if c.RPS == 0 {
		c.RPS = DefaultRPS
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
