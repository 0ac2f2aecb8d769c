package disk

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero value means defaults", func(c *Config) { *c = Config{} }, ""},
		{"http url", func(c *Config) { c.URL = "http://127.0.0.1:8089/" }, ""},
		{"bad scheme", func(c *Config) { c.URL = "ftp://x" }, "want http(s)://host"},
		{"no host", func(c *Config) { c.URL = "https://" }, "want http(s)://host"},
		{"credentials in url", func(c *Config) { c.URL = "https://u:p@host" }, "credentials"},
		{"negative max size", func(c *Config) { c.MaxFileSize = -1 }, "max_file_size"},
		{"page size 1", func(c *Config) { c.PageSize = 1 }, "page_size"},
		{"page size huge", func(c *Config) { c.PageSize = 10001 }, "page_size"},
		{"listing", func(c *Config) { c.Listing = "walk" }, "listing"},
		{"tree listing", func(c *Config) { c.Listing = ListTree }, ""},
		{"bad glob", func(c *Config) { c.Exclude = []string{"/a/[b"} }, "glob"},
		{"empty glob", func(c *Config) { c.Include = []string{" "} }, "empty"},
		{"negative duration", func(c *Config) { c.LockedWait = -time.Second }, "negative"},
		{"negative resumes", func(c *Config) { c.ResumeAttempts = -1 }, "negative"},
		{"restore workers", func(c *Config) { c.RestoreWorkers = 65 }, "restore_workers"},
		{"negative restore workers", func(c *Config) { c.RestoreWorkers = -1 }, "restore_workers"},
		{"modified property off", func(c *Config) { c.ModifiedProperty = NoModifiedProperty }, ""},
		{"modified property with a space", func(c *Config) { c.ModifiedProperty = "my prop" }, "modified_property"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.URL != DefaultURL || c.PageSize != DefaultPageSize || c.RPS != DefaultRPS || c.Listing != ListFiles ||
		c.ResumeAttempts != DefaultResumeAttempts || c.MaxRetries != 4 || c.StallTimeout != DefaultStallTimeout ||
		c.RestoreWorkers != DefaultRestoreWorkers || c.modifiedProperty() != DefaultModifiedProperty {
		t.Fatalf("defaults: %+v", c)
	}
	if p := (Config{ModifiedProperty: NoModifiedProperty}).withDefaults().modifiedProperty(); p != "" {
		t.Fatalf("modified property %q, want off", p)
	}
	if c := (Config{RPS: -1, MaxRetries: -1}).withDefaults(); c.RPS != -1 || c.MaxRetries != -1 {
		t.Fatalf("negative values must survive (unlimited / no retries): %+v", c)
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		glob, path string
		want       bool
	}{
		{"*.iso", "disk:/a/b/x.ISO", true},
		{"*.iso", "disk:/a/x.iso.txt", false},
		{"tmp", "disk:/a/tmp/deep/f.txt", true},
		{"tmp", "disk:/a/tmpfile", false},
		{"/Video", "disk:/Video/film.mp4", true},
		{"/Video", "disk:/Videos/film.mp4", false},
		{"/Video/*", "disk:/Video/2024/film.mp4", true},
		{"disk:/Video/", "disk:/video/film.mp4", true},
		{"/Docs/*.pdf", "disk:/Docs/a.pdf", true},
		{"/Docs/*.pdf", "disk:/Docs/sub/a.pdf", false},
		{"Docs/*.pdf", "/Docs/a.pdf", true},
		{"/", "disk:/anything", true},
		{"/..hidden", "disk:/..hidden/...", true},
		{"/a/..", "disk:/a/../b", true}, // names are opaque: ".." is never "parent"
		{"/Документы/*", "disk:/документы/Отчёт.txt", true},
		{"*.txt", "disk:/" + strings.Repeat("ж", 251) + ".txt", true},
	}
	for _, tc := range tests {
		if got := matchGlob(tc.glob, tc.path); got != tc.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tc.glob, tc.path, got, tc.want)
		}
	}
}

func TestSelected(t *testing.T) {
	c := Config{Include: []string{"/Docs", "*.jpg"}, Exclude: []string{"/Docs/private"}}
	for p, want := range map[string]bool{
		"disk:/Docs/a.txt":         true,
		"disk:/Photos/x.jpg":       true,
		"disk:/Photos/x.png":       false,
		"disk:/Docs/private/x.jpg": false, // exclude wins
	} {
		if got := c.selected(p); got != want {
			t.Errorf("selected(%q) = %v, want %v", p, got, want)
		}
	}
}
