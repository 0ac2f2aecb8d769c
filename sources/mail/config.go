package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path"
	"strings"
	"time"
)

// Security modes for Config.Security.
const (
	SecurityTLS      = "tls"      // implicit TLS, as imap.yandex.ru:993 requires
	SecurityStartTLS = "starttls" // plain connect, then STARTTLS (tests, Dovecot)
	SecurityPlain    = "plain"    // no encryption at all (tests only)
)

// Defaults used by NewConfig and for zero fields of a Config.
const (
	DefaultAddr      = "imap.yandex.ru:993"
	DefaultBatchSize = 100
	DefaultTimeout   = 2 * time.Minute
	// DefaultAppendPipeline is how many restore APPENDs may await their
	// answer at once. At a 20 ms round trip, 300 small messages restored
	// at 46 msgs/s one at a time, 318 with 8 in flight and 912 with 32
	// (TestRestoreLatency); 16 keeps a distant server busy without
	// queueing much at it.
	DefaultAppendPipeline = 16
)

// Config configures the mail source. The zero value is usable: zero fields
// take the defaults of NewConfig.
type Config struct {
	// Addr is the IMAP server as host:port.
	Addr string `yaml:"addr"`
	// Security is "tls" (default), "starttls" or "plain".
	Security string `yaml:"security"`
	// TLSConfig, if set, is used for TLS and STARTTLS (cloned; ServerName is
	// filled from Addr when empty).
	TLSConfig *tls.Config `yaml:"-"`
	// InsecureSkipVerify disables certificate checks (tests against
	// self-signed servers only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// IncludeFolders, if not empty, limits the backup to folders matching at
	// least one pattern. ExcludeFolders drops folders matching any pattern.
	// A pattern is either a path.Match glob on the decoded folder name
	// ("Archive|*", "Проекты") or a LIST attribute such as `\Junk` or
	// `\Trash` (any pattern starting with a backslash). Note that '*' in a
	// glob does not cross a '/', which Dovecot uses as delimiter; Yandex uses '|'.
	IncludeFolders []string `yaml:"include_folders"`
	ExcludeFolders []string `yaml:"exclude_folders"`
	// BatchSize is the number of UIDs per FETCH (default 100).
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds how long any IMAP command may go without progress:
	// while a command is outstanding, every read and write must make
	// progress within Timeout or the connection is dropped (default 2m).
	Timeout time.Duration `yaml:"timeout"`
	// AppendPipeline is how many APPENDs a restore sends before it waits for
	// the answer to the first (default 16; 1 = one at a time).
	AppendPipeline int `yaml:"append_pipeline"`
	// RestoreJournalDir keeps, per destination folder, the UIDs restores
	// created (restore_journal.go), so a rerun after a kill can remove the
	// duplicates of an earlier run too. "" = this call's own APPENDs only.
	RestoreJournalDir string `yaml:"-"`
}

// NewConfig returns the defaults: Yandex over implicit TLS, batches of 100
// UIDs, 2 minute command timeout.
func NewConfig() Config {
	return Config{
		Addr:      DefaultAddr,
		Security:  SecurityTLS,
		BatchSize: DefaultBatchSize,
		Timeout:   DefaultTimeout,

		AppendPipeline: DefaultAppendPipeline,
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := NewConfig()
	if c.Addr == "" {
		c.Addr = d.Addr
	}
	if c.Security == "" {
		c.Security = d.Security
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.AppendPipeline == 0 {
		c.AppendPipeline = d.AppendPipeline
	}
	return c
}

// Validate reports the first problem with the configuration (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("mail: addr %q: want host:port: %w", c.Addr, err)
	}
	switch c.Security {
	case SecurityTLS, SecurityStartTLS, SecurityPlain:
	default:
		return fmt.Errorf("mail: security %q: want %q, %q or %q", c.Security, SecurityTLS, SecurityStartTLS, SecurityPlain)
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		return fmt.Errorf("mail: batch_size %d: want 1..10000", c.BatchSize)
	}
	if c.AppendPipeline < 1 || c.AppendPipeline > 100 {
		return fmt.Errorf("mail: append_pipeline %d: want 1..100", c.AppendPipeline)
	}
	if c.Timeout < time.Second {
		return fmt.Errorf("mail: timeout %v: want at least 1s", c.Timeout)
	}
	for _, list := range []struct {
		name     string
		patterns []string
	}{{"include_folders", c.IncludeFolders}, {"exclude_folders", c.ExcludeFolders}} {
		for _, p := range list.patterns {
			if err := checkPattern(p); err != nil {
				return fmt.Errorf("mail: %s: %w", list.name, err)
			}
		}
	}
	return nil
}

func checkPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	if strings.HasPrefix(p, `\`) {
		if len(p) == 1 || strings.ContainsAny(p, " ()*%") {
			return fmt.Errorf("attribute %q: want e.g. \\Junk", p)
		}
		return nil
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", p, err)
	}
	return nil
}
