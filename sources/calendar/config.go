package calendar

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// Auth schemes the source can speak.
const (
	// AuthOAuth sends "Authorization: OAuth <token>", the way Yandex's own
	// Outlook connector talks to caldav.yandex.ru.
	AuthOAuth = "oauth"
	// AuthBasic sends the user's email as login and the OAuth token as the
	// password (Radicale only understands Basic).
	AuthBasic = "basic"
)

// DefaultURL is Yandex Calendar's CalDAV endpoint.
const DefaultURL = "https://caldav.yandex.ru/"

// Config configures the calendar source. The zero value is not valid; start
// from NewConfig.
type Config struct {
	// Enabled is the per-source switch; the engine consults it, Backup does not.
	Enabled bool `yaml:"enabled"`
	// URL is the CalDAV context URL; discovery starts with a PROPFIND on it.
	URL string `yaml:"url"`
	// Auth is AuthOAuth (default) or AuthBasic.
	Auth string `yaml:"auth"`
	// IncludeCalendars, if not empty, limits the backup to collections whose
	// display name or path segment matches one of these globs (path.Match
	// syntax, case-insensitive). ExcludeCalendars wins over IncludeCalendars.
	IncludeCalendars []string `yaml:"include_calendars"`
	ExcludeCalendars []string `yaml:"exclude_calendars"`
	// MultigetBatch is how many objects one calendar-multiget REPORT asks for.
	MultigetBatch int `yaml:"multiget_batch"`
	// Timeout bounds one HTTP request including reading its response body.
	Timeout time.Duration `yaml:"timeout"`
	// RestoreWorkers is how many PUTs a restore keeps in flight per
	// collection. Each PUT is one round trip that writes one small object,
	// so latency, not bandwidth, bounds a restore. 0 means the default.
	RestoreWorkers int `yaml:"restore_workers"`
}

// NewConfig returns a Config with the defaults filled in.
func NewConfig() Config {
	return Config{
		Enabled:        true,
		URL:            DefaultURL,
		Auth:           AuthOAuth,
		MultigetBatch:  50,
		Timeout:        2 * time.Minute,
		RestoreWorkers: defaultRestoreWorkers,
	}
}

// maxMultigetBatch keeps one multiget answer (held in memory while it is
// checked, see fetch.go) to a sane size.
const maxMultigetBatch = 1000

const defaultRestoreWorkers = 4

// maxRestoreWorkers keeps a restore well below Yandex's ~200 requests/s.
const maxRestoreWorkers = 32

// Validate reports the first problem in c.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("calendar: url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("calendar: url %q: want http(s)://host/path", c.URL)
	}
	if u.User != nil {
		return errors.New("calendar: url must not carry credentials")
	}
	switch c.Auth {
	case AuthOAuth, AuthBasic:
	default:
		return fmt.Errorf("calendar: auth %q: want %q or %q", c.Auth, AuthOAuth, AuthBasic)
	}
	if c.MultigetBatch < 1 || c.MultigetBatch > maxMultigetBatch {
		return fmt.Errorf("calendar: multiget_batch %d: want 1..%d", c.MultigetBatch, maxMultigetBatch)
	}
	if c.RestoreWorkers < 0 || c.RestoreWorkers > maxRestoreWorkers {
		return fmt.Errorf("calendar: restore_workers %d: want 1..%d (0 = %d)", c.RestoreWorkers, maxRestoreWorkers, defaultRestoreWorkers)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("calendar: timeout %v is negative", c.Timeout)
	}
	return dav.CheckGlobs("calendar: calendar glob", c.IncludeCalendars, c.ExcludeCalendars)
}

// selected reports whether a collection with this path segment and display
// name is to be backed up.
func (c Config) selected(segment, displayName string) bool {
	return dav.Selected(c.IncludeCalendars, c.ExcludeCalendars, segment, displayName)
}
