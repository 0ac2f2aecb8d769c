package disk

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
)

// DefaultURL is the Disk REST API host; "/v1/disk/..." is appended.
const DefaultURL = "https://cloud-api.yandex.net"

// Listing modes.
const (
	// ListFiles pages through the flat GET /v1/disk/resources/files (default).
	ListFiles = "files"
	// ListTree walks folders with GET /v1/disk/resources, for accounts where
	// the flat list turns out incomplete; it also prunes excluded folders.
	ListTree = "tree"
)

// Defaults filled in by NewConfig (and for zero fields by New).
const (
	DefaultPageSize       = 1000
	DefaultRPS            = 10 // API requests per second per host: well under the ~40 Yandex's own scripts use
	DefaultDownloadRPS    = 20 // download-host requests per second
	DefaultResumeAttempts = 5
	DefaultLockedRetries  = 2
	DefaultLockedWait     = time.Minute
	DefaultStallTimeout   = 2 * time.Minute
	DefaultRestoreWorkers = 4
	// DefaultModifiedProperty is the custom property a restore keeps a
	// file's original modified time in (rclone does the same with
	// "rclone_modified"): the API cannot set "modified" itself.
	DefaultModifiedProperty = "y360backup_modified"
	// NoModifiedProperty as Config.ModifiedProperty turns the property off.
	NoModifiedProperty = "-"
	maxPageSize        = 10000
	maxRestoreWorkers  = 64
)

// Config configures the Disk source. Zero fields mean their defaults (see
// NewConfig); negative RPS means unlimited and negative MaxRetries none.
type Config struct {
	// Enabled is the per-source switch; the engine consults it, Backup does not.
	Enabled bool `yaml:"enabled"`
	// URL is the API base (DefaultURL).
	URL string `yaml:"url"`
	// Include, if not empty, limits the backup to files matching one of these
	// globs; Exclude wins over Include. See matchGlob for the syntax.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// MaxFileSize skips (st.Skip, with the reason) files larger than this many
	// bytes; 0 = no limit.
	MaxFileSize int64 `yaml:"max_file_size"`
	// PageSize is the listing page size (limit parameter), 2..10000.
	PageSize int `yaml:"page_size"`
	// Listing is ListFiles (default) or ListTree.
	Listing string `yaml:"listing"`

	// RPS is the request rate allowed against the API host, DownloadRPS
	// against the download host and, for restores, the upload host (each a
	// token bucket per host).
	RPS         float64 `yaml:"rps"`
	DownloadRPS float64 `yaml:"download_rps"`
	// MaxRetries is how often one request is retried on 429/5xx/network
	// errors, with exponential back-off and jitter, honouring Retry-After.
	MaxRetries int           `yaml:"max_retries"`
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`

	// ResumeAttempts bounds how many times one file download is resumed
	// (Range: bytes=N-) after the connection broke mid-body.
	ResumeAttempts int `yaml:"resume_attempts"`
	// StallTimeout cuts and resumes a download that delivered no byte for
	// this long.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	// LockedRetries is how many extra rounds, LockedWait apart and after the
	// listing, retry files that answered 423 DiskResourceLockedError (Yandex
	// support suggests waiting rather than hammering a locked resource).
	LockedRetries int           `yaml:"locked_retries"`
	LockedWait    time.Duration `yaml:"locked_wait"`
	// FreshLinks asks /v1/disk/resources/download for every file instead of
	// first trying the "file" link the listing already carries (which saves
	// one API request per downloaded file).
	FreshLinks bool `yaml:"fresh_links"`

	// RestoreWorkers is how many files a restore uploads at once (1..64).
	// The rate limits above hold across them.
	RestoreWorkers int `yaml:"restore_workers"`
	// ModifiedProperty names the custom property (PATCH custom_properties)
	// in which a restore stores each file's original modified time, since
	// the restored file's own "modified" becomes the time of the restore.
	// A backup records the property back as Meta.OriginalModified, so the
	// time survives further backup/restore rounds. NoModifiedProperty ("-")
	// turns this off (one API request less per restored file).
	ModifiedProperty string `yaml:"modified_property"`
}

// NewConfig returns a Config with every default filled in.
func NewConfig() Config {
	return Config{
		Enabled:        true,
		URL:            DefaultURL,
		PageSize:       DefaultPageSize,
		Listing:        ListFiles,
		RPS:            DefaultRPS,
		DownloadRPS:    DefaultDownloadRPS,
		MaxRetries:     4,
		ResumeAttempts: DefaultResumeAttempts,
		StallTimeout:   DefaultStallTimeout,
		LockedRetries:  DefaultLockedRetries,
		LockedWait:     DefaultLockedWait,
		RestoreWorkers: DefaultRestoreWorkers,

		ModifiedProperty: DefaultModifiedProperty,
	}
}

// withDefaults fills zero fields from NewConfig.
func (c Config) withDefaults() Config {
	d := NewConfig()
	if c.URL == "" {
		c.URL = d.URL
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.PageSize == 0 {
		c.PageSize = d.PageSize
	}
	if c.Listing == "" {
		c.Listing = d.Listing
	}
	if c.RPS == 0 {
		c.RPS = d.RPS
	}
	if c.DownloadRPS == 0 {
		c.DownloadRPS = d.DownloadRPS
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = d.MaxRetries
	}
	if c.ResumeAttempts == 0 {
		c.ResumeAttempts = d.ResumeAttempts
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = d.StallTimeout
	}
	if c.LockedRetries == 0 {
		c.LockedRetries = d.LockedRetries
	}
	if c.LockedWait == 0 {
		c.LockedWait = d.LockedWait
	}
	if c.RestoreWorkers == 0 {
		c.RestoreWorkers = d.RestoreWorkers
	}
	if c.ModifiedProperty == "" {
		c.ModifiedProperty = d.ModifiedProperty
	}
	return c
}

// modifiedProperty is the property name in use, "" when turned off.
func (c Config) modifiedProperty() string {
	if c.ModifiedProperty == NoModifiedProperty {
		return ""
	}
	return c.ModifiedProperty
}

// Validate reports the first problem in c (zero fields count as defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("disk: url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("disk: url %q: want http(s)://host", c.URL)
	}
	if u.User != nil || u.RawQuery != "" {
		return errors.New("disk: url must not carry credentials or a query")
	}
	switch {
	case c.MaxFileSize < 0:
		return fmt.Errorf("disk: max_file_size %d is negative", c.MaxFileSize)
	case c.PageSize < 2 || c.PageSize > maxPageSize:
		// Pages overlap by one item (see list.go), so 1 would never advance.
		return fmt.Errorf("disk: page_size %d: want 2..%d", c.PageSize, maxPageSize)
	case c.Listing != ListFiles && c.Listing != ListTree:
		return fmt.Errorf("disk: listing %q: want %q or %q", c.Listing, ListFiles, ListTree)
	case c.ResumeAttempts < 0 || c.LockedRetries < 0:
		return errors.New("disk: resume_attempts and locked_retries must not be negative")
	case c.StallTimeout < 0 || c.LockedWait < 0 || c.MinBackoff < 0 || c.MaxBackoff < 0:
		return errors.New("disk: durations must not be negative")
	case c.RestoreWorkers < 1 || c.RestoreWorkers > maxRestoreWorkers:
		return fmt.Errorf("disk: restore_workers %d: want 1..%d", c.RestoreWorkers, maxRestoreWorkers)
	case len(c.ModifiedProperty) > 64 || strings.ContainsAny(c.ModifiedProperty, " \t\r\n\"\\"):
		return fmt.Errorf("disk: modified_property %q: want a short name without spaces or quotes", c.ModifiedProperty)
	}
	for _, g := range append(append([]string(nil), c.Include...), c.Exclude...) {
		if strings.TrimSpace(g) == "" {
			return errors.New("disk: empty include/exclude glob")
		}
		if _, err := path.Match(normGlob(g), ""); err != nil {
			return fmt.Errorf("disk: glob %q: %w", g, err)
		}
	}
	return nil
}

// selected reports whether the file at p ("disk:/a/b.txt" or "/a/b.txt") is
// to be backed up under the include/exclude globs.
func (c Config) selected(p string) bool {
	if matchAny(c.Exclude, p) {
		return false
	}
	return len(c.Include) == 0 || matchAny(c.Include, p)
}

func matchAny(globs []string, p string) bool {
	for _, g := range globs {
		if matchGlob(g, p) {
			return true
		}
	}
	return false
}

func normGlob(g string) string {
	g = strings.ToLower(strings.TrimSpace(g))
	g = strings.TrimPrefix(g, "disk:")
	if len(g) > 1 {
		g = strings.TrimSuffix(g, "/")
	}
	return g
}

// matchGlob matches a path glob (path.Match syntax, case-insensitive) against
// a Disk path:
//
//   - a glob without "/" matches any single name: "*.iso" matches every ISO
//     image, "tmp" every file or folder named tmp (and so what is below it);
//   - a glob with "/" is anchored at the root ("disk:" optional) and matches
//     the path or any folder above it: "/Video" and "/Video/*" both cover
//     everything under /Video, "/Docs/*.pdf" the PDFs directly in /Docs.
func matchGlob(glob, p string) bool {
	g := normGlob(glob)
	p = strings.ToLower(strings.TrimPrefix(p, "disk:"))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.Contains(g, "/") {
		for _, name := range strings.Split(p, "/") {
			if name == "" {
				continue
			}
			if ok, _ := path.Match(g, name); ok {
				return true
			}
		}
		return false
	}
	if !strings.HasPrefix(g, "/") {
		g = "/" + g
	}
	for q := p; ; {
		if ok, _ := path.Match(g, q); ok {
			return true
		}
		i := strings.LastIndex(q, "/")
		if i <= 0 {
			return g == "/"
		}
		q = q[:i]
	}
}
