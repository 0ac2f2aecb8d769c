package calendar

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"basic", func(c *Config) { c.Auth = AuthBasic; c.URL = "http://127.0.0.1:5232/" }, ""},
		{"bad auth", func(c *Config) { c.Auth = "digest" }, "auth"},
		{"ftp url", func(c *Config) { c.URL = "ftp://x/" }, "url"},
		{"no host", func(c *Config) { c.URL = "https:///x" }, "url"},
		{"credentials in url", func(c *Config) { c.URL = "https://u:p@caldav.yandex.ru/" }, "credentials"},
		{"batch 0", func(c *Config) { c.MultigetBatch = 0 }, "multiget_batch"},
		{"batch too big", func(c *Config) { c.MultigetBatch = 5000 }, "multiget_batch"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "timeout"},
		{"bad glob", func(c *Config) { c.ExcludeCalendars = []string{"[a"} }, "glob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestConfigSelected(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		segment, display string
		want             bool
	}{
		{"no filters", nil, nil, "events-default", "Мои события", true},
		{"include by segment", []string{"todos-*"}, nil, "todos-1", "Задачи", true},
		{"include misses", []string{"todos-*"}, nil, "events-1", "Работа", false},
		{"include by Cyrillic name, any case", []string{"работа*"}, nil, "events-1", "Работа и встречи", true},
		{"exclude wins", []string{"*"}, []string{"Праздники*"}, "events-9", "праздники РФ", false},
		{"exclude by segment", nil, []string{"events-default"}, "events-default", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfig()
			c.IncludeCalendars, c.ExcludeCalendars = tc.include, tc.exclude
			if got := c.selected(tc.segment, tc.display); got != tc.want {
				t.Errorf("selected = %v, want %v", got, tc.want)
			}
		})
	}
}
