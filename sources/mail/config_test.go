package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestConfigDefaults(t *testing.T) {
	c := NewConfig()
	if c.Addr != "imap.yandex.ru:993" || c.Security != SecurityTLS || c.BatchSize != 100 || c.Timeout != 2*time.Minute || c.AppendPipeline != 16 {
		t.Fatalf("NewConfig() = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if got := (Config{}).withDefaults(); got.Addr != c.Addr || got.BatchSize != 100 || got.Timeout != c.Timeout || got.Security != SecurityTLS || got.AppendPipeline != 16 {
		t.Fatalf("zero Config with defaults = %+v", got)
	}
	if got := New(Config{BatchSize: 7}).cfg; got.BatchSize != 7 || got.Addr != DefaultAddr {
		t.Fatalf("New kept %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero value", func(c *Config) { *c = Config{} }, ""},
		{"no port", func(c *Config) { c.Addr = "imap.yandex.ru" }, "host:port"},
		{"bad security", func(c *Config) { c.Security = "ssl" }, "security"},
		{"starttls", func(c *Config) { c.Security = SecurityStartTLS }, ""},
		{"plain", func(c *Config) { c.Security = SecurityPlain }, ""},
		{"negative batch", func(c *Config) { c.BatchSize = -1 }, "batch_size"},
		{"huge batch", func(c *Config) { c.BatchSize = 100000 }, "batch_size"},
		{"tiny timeout", func(c *Config) { c.Timeout = time.Millisecond }, "timeout"},
		{"good globs", func(c *Config) { c.IncludeFolders = []string{"INBOX", "Archive|*", "Проекты"} }, ""},
		{"attribute", func(c *Config) { c.ExcludeFolders = []string{`\Junk`, `\Trash`} }, ""},
		{"bad glob", func(c *Config) { c.ExcludeFolders = []string{"Archive["} }, "exclude_folders"},
		{"empty pattern", func(c *Config) { c.IncludeFolders = []string{""} }, "include_folders"},
		{"bare backslash", func(c *Config) { c.ExcludeFolders = []string{`\`} }, "attribute"},
		{"no pipelining", func(c *Config) { c.AppendPipeline = 1 }, ""},
		{"negative pipeline", func(c *Config) { c.AppendPipeline = -1 }, "append_pipeline"},
		{"huge pipeline", func(c *Config) { c.AppendPipeline = 1000 }, "append_pipeline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConfig()
			tt.mod(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestFolderFilter(t *testing.T) {
	inbox := folder{name: "INBOX"}
	junk := folder{name: "Спам", attrs: []imap.MailboxAttr{imap.MailboxAttrHasNoChildren, imap.MailboxAttrJunk}}
	trash := folder{name: "Trash", attrs: []imap.MailboxAttr{`\trash`}} // attributes are case-insensitive
	arch := folder{name: "Archive|2017"}
	archSlash := folder{name: "Archive/2017"}
	proj := folder{name: "Проекты"}
	tests := []struct {
		name             string
		include, exclude []string
		want             map[string]bool // folder name → wanted
	}{
		{"no filters", nil, nil, map[string]bool{"INBOX": true, "Спам": true, "Trash": true, "Archive|2017": true, "Проекты": true}},
		{"exclude junk and trash by attribute", nil, []string{`\Junk`, `\Trash`},
			map[string]bool{"INBOX": true, "Спам": false, "Trash": false, "Archive|2017": true}},
		{"exclude by glob with yandex delimiter", nil, []string{"Archive|*"},
			map[string]bool{"Archive|2017": false, "Archive/2017": true, "INBOX": true}},
		{"star does not cross slash", nil, []string{"Archive*"},
			map[string]bool{"Archive|2017": false, "Archive/2017": true}},
		{"slash glob", nil, []string{"Archive/*"}, map[string]bool{"Archive/2017": false, "Archive|2017": true}},
		{"include only inbox and cyrillic", []string{"INBOX", "Про*"}, nil,
			map[string]bool{"INBOX": true, "Проекты": true, "Спам": false, "Archive|2017": false}},
		{"include by attribute", []string{`\Junk`}, nil, map[string]bool{"Спам": true, "INBOX": false}},
		{"exclude wins over include", []string{"*"}, []string{"INBOX"}, map[string]bool{"INBOX": false, "Проекты": true}},
	}
	all := map[string]folder{"INBOX": inbox, "Спам": junk, "Trash": trash, "Archive|2017": arch, "Archive/2017": archSlash, "Проекты": proj}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{IncludeFolders: tt.include, ExcludeFolders: tt.exclude}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := cfg.wanted(all[name]); got != want {
					t.Errorf("wanted(%q) = %v, want %v", name, got, want)
				}
			}
		})
	}
}
