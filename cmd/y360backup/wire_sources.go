package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/contacts"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/y360"
)

// buildSources returns the enabled sources, in a fixed order.
// hc (nil = each source's default) carries the politeness budgets to CalDAV.
func buildSources(cfg *config.Config, org *y360.Client, hc *http.Client) ([]sources.Source, error) {
	var out []sources.Source
	if config.On(cfg.Sources.Mail.Enabled) {
		m, err := mailSource(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if config.On(cfg.Sources.Calendar.Enabled) {
		c := calendar.NewConfig()
		in := cfg.Sources.Calendar
		c.URL, c.Auth, c.IncludeCalendars, c.ExcludeCalendars = in.URL, in.Auth, in.IncludeCalendars, in.ExcludeCalendars
		if err := c.Validate(); err != nil {
			return nil, err
		}
		out = append(out, calendar.New(c, hc))
	}
	if config.On(cfg.Sources.Disk.Enabled) {
		in := cfg.Sources.Disk
		c := disk.NewConfig()
		c.URL, c.Include, c.Exclude = in.URL, in.Include, in.Exclude
		if in.MaxFileSize != "" {
			n, err := config.ParseSize(in.MaxFileSize)
			if err != nil {
				return nil, fmt.Errorf("sources.disk.max_file_size: %w", err)
			}
			c.MaxFileSize = n
		}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		out = append(out, disk.New(c, nil))
	}
	if cfg.ContactsOn() {
		c, err := contactsConfig(cfg.Sources.Contacts)
		if err != nil {
			return nil, err
		}
		out = append(out, contacts.New(c, hc))
	}
	return out, nil
}

// enabledSources names the enabled sources for messages.
func enabledSources(cfg *config.Config) string {
	var on []string
	contactsOn := cfg.ContactsOn()
	for _, s := range []struct {
		name string
		b    *bool
	}{{"mail", cfg.Sources.Mail.Enabled}, {"calendar", cfg.Sources.Calendar.Enabled}, {"disk", cfg.Sources.Disk.Enabled}, {"contacts", &contactsOn}} {
		if config.On(s.b) {
			on = append(on, s.name)
		}
	}
	return strings.Join(on, ", ")
}
