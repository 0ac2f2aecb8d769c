package contacts

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// Auth schemes the source can speak.
const (
	// AuthBasic sends the user's email as login and the exchanged OAuth
	// token as the password: what Yandex's own carddav.py does.
	AuthBasic = "basic"
	// AuthOAuth sends "Authorization: OAuth <token>" (Yandex's Outlook
	// connector does this for CardDAV too).
	AuthOAuth = "oauth"
)

// Listing modes for the members of an address book.
const (
	// ListPROPFIND is the standard PROPFIND Depth 1 for hrefs and etags
	// (with getctag and, when offered, sync-collection before it).
	ListPROPFIND = "propfind"
	// ListOpLs is Yandex's non-standard GET <book>/?op=ls answering
	// {"list":[{"fileName":..,"etag":..}]}.
	ListOpLs = "ls"
)

// Defaults for Yandex.
const (
	DefaultURL = "https://carddav.yandex.ru/"
	// DefaultHome is the address-book home on carddav.yandex.ru; {email}
	// is replaced by the user's email. Empty = discover it (RFC 6352).
	DefaultHome = "/addressbook/{email}/"
	// DefaultScope is the service-application scope CardDAV needs. It is
	// UNCONFIRMED in Yandex's official text (a third-party live test saw
	// 207 with it and 401 without), hence configurable.
	DefaultScope = "addressbook:all"
)

// Config configures the contacts source. Start from NewConfig.
type Config struct {
	Enabled bool   `yaml:"enabled"`
	URL     string `yaml:"url"`
	Auth    string `yaml:"auth"`
	// Home is the address-book home path template ({email} = the user's
	// email); "" discovers it via current-user-principal and
	// addressbook-home-set.
	Home    string `yaml:"home"`
	Listing string `yaml:"listing"`
	// IncludeBooks / ExcludeBooks select address books by path segment
	// ("1", "2") or display name: globs, case-insensitive; exclude wins.
	IncludeBooks []string `yaml:"include_books"`
	ExcludeBooks []string `yaml:"exclude_books"`
	// MaxContactSize: larger vCards are skipped (recorded), never loaded.
	MaxContactSize int64         `yaml:"max_contact_size"`
	Timeout        time.Duration `yaml:"timeout"`
	RestoreWorkers int           `yaml:"restore_workers"`
}

const (
	defaultRestoreWorkers = 4
	maxRestoreWorkers     = 32
	defaultMaxContact     = 64 << 20
)

// NewConfig returns a Config with the defaults filled in.
func NewConfig() Config {
	return Config{
		Enabled: true, URL: DefaultURL, Auth: AuthBasic, Home: DefaultHome, Listing: ListPROPFIND,
		MaxContactSize: defaultMaxContact, Timeout: 2 * time.Minute, RestoreWorkers: defaultRestoreWorkers,
	}
}

// Validate reports the first problem in c.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("contacts: url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("contacts: url %q: want http(s)://host/path", c.URL)
	}
	if u.User != nil {
		return errors.New("contacts: url must not carry credentials")
	}
	if c.Auth != AuthBasic && c.Auth != AuthOAuth {
		return fmt.Errorf("contacts: auth %q: want %q or %q", c.Auth, AuthBasic, AuthOAuth)
	}
	if c.Listing != ListPROPFIND && c.Listing != ListOpLs {
		return fmt.Errorf("contacts: listing %q: want %q or %q", c.Listing, ListPROPFIND, ListOpLs)
	}
	if c.Listing == ListOpLs && c.Home == "" {
		return errors.New("contacts: listing \"ls\" needs home (the ?op=ls listing is Yandex's; set home: /addressbook/{email}/)")
	}
	if c.Home != "" && !strings.HasPrefix(c.Home, "/") {
		return fmt.Errorf("contacts: home %q: want an absolute path such as %s", c.Home, DefaultHome)
	}
	if c.MaxContactSize < 1 {
		return fmt.Errorf("contacts: max_contact_size %d: want > 0", c.MaxContactSize)
	}
	if c.RestoreWorkers < 0 || c.RestoreWorkers > maxRestoreWorkers {
		return fmt.Errorf("contacts: restore_workers %d: want 1..%d (0 = %d)", c.RestoreWorkers, maxRestoreWorkers, defaultRestoreWorkers)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("contacts: timeout %v is negative", c.Timeout)
	}
	return dav.CheckGlobs("contacts: book glob", c.IncludeBooks, c.ExcludeBooks)
}

// selected reports whether a book with this segment and name is backed up.
func (c Config) selected(segment, displayName string) bool {
	return dav.Selected(c.IncludeBooks, c.ExcludeBooks, segment, displayName)
}

// homePath is the configured home for one user, "" when it is discovered.
func (c Config) homePath(email string) string {
	if c.Home == "" {
		return ""
	}
	return strings.ReplaceAll(c.Home, "{email}", email)
}
