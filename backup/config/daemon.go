package config

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The sections below only matter to the long-running daemon (y360backup
// run); one-off commands ignore them. Rate limits also apply to one-off runs.

// Schedule says when the daemon backs up. Each source runs on its own
// schedule when one is set, otherwise on Default. Sources that end up with
// the same schedule run together in one backup run (one user listing, one
// repository lock).
type Schedule struct {
	Default  string `yaml:"default"`
	Mail     string `yaml:"mail"`
	Calendar string `yaml:"calendar"`
	Disk     string `yaml:"disk"`
	Contacts string `yaml:"contacts"`
	// Timezone is an IANA zone name (Europe/Moscow) the schedules are read
	// in; empty = the machine's local zone. A spec starting with CRON_TZ=
	// wins over it.
	Timezone string `yaml:"timezone"`
	// Jitter delays each start by a random amount in [0, Jitter), so many
	// installations do not all call Yandex at the same second (default 0;
	// a few minutes is a good value).
	Jitter time.Duration `yaml:"jitter"`
}

// Daemon tunes the daemon's life cycle.
type Daemon struct {
	// GracePeriod is how long SIGTERM waits for a cancelled run to wind down
	// (close connections, release the lock) before the process exits anyway.
	GracePeriod time.Duration `yaml:"grace_period"`
	// RunOnStart starts every job once right after the daemon starts.
	RunOnStart bool `yaml:"run_on_start"`
}

// Metrics configures the Prometheus /metrics and /healthz listener.
type Metrics struct {
	// Listen is host:port; nil (unset) = DefaultMetricsListen; "" disables.
	Listen *string `yaml:"listen"`
}

// RateLimits are the politeness limits towards Yandex beyond api.rps.
type RateLimits struct {
	// TokenExchangesPerHour caps service-application token exchanges (the
	// OAuth host); Yandex's own scripts stay at or below 1000 per hour.
	TokenExchangesPerHour int `yaml:"token_exchanges_per_hour"`
	// CalDAVRPS caps requests per second to the CalDAV host.
	CalDAVRPS float64 `yaml:"caldav_rps"`
}

// Defaults of the daemon sections (documented in config.example.yaml).
const (
	DefaultSchedule              = "0 1 * * *" // nightly at 01:00
	DefaultGracePeriod           = 30 * time.Second
	DefaultMetricsListen         = "127.0.0.1:9360"
	DefaultTokenExchangesPerHour = 900
	DefaultCalDAVRPS             = 20
)

// ListenAddr is the metrics listen address ("" = disabled).
func (m Metrics) ListenAddr() string {
	if m.Listen == nil {
		return DefaultMetricsListen
	}
	return *m.Listen
}

func (c *Config) applyDaemonDefaults() {
	if c.Schedule.Default == "" {
		c.Schedule.Default = DefaultSchedule
	}
	if c.Daemon.GracePeriod == 0 {
		c.Daemon.GracePeriod = DefaultGracePeriod
	}
	if c.RateLimits.TokenExchangesPerHour == 0 {
		c.RateLimits.TokenExchangesPerHour = DefaultTokenExchangesPerHour
	}
	if c.RateLimits.CalDAVRPS == 0 {
		c.RateLimits.CalDAVRPS = DefaultCalDAVRPS
	}
}

// Job is one scheduled backup: these sources, on this cron spec.
type Job struct {
	Name    string   // the sources joined with "+", e.g. "mail+calendar"
	Spec    string   // cron spec as configured
	Sources []string // source names, in the fixed order mail, calendar, disk
}

// Jobs groups the enabled sources by schedule (sources sharing a spec run
// together), in a stable order.
func (c *Config) Jobs() []Job {
	var jobs []Job
	idx := map[string]int{}
	for _, s := range []struct {
		name string
		on   *bool
		spec string
	}{
		{"mail", c.Sources.Mail.Enabled, c.Schedule.Mail},
		{"calendar", c.Sources.Calendar.Enabled, c.Schedule.Calendar},
		{"disk", c.Sources.Disk.Enabled, c.Schedule.Disk},
		{"contacts", boolPtr(c.ContactsOn()), c.Schedule.Contacts},
	} {
		if !On(s.on) {
			continue
		}
		spec := strings.TrimSpace(s.spec)
		if spec == "" {
			spec = strings.TrimSpace(c.Schedule.Default)
		}
		i, ok := idx[spec]
		if !ok {
			i = len(jobs)
			idx[spec] = i
			jobs = append(jobs, Job{Spec: spec})
		}
		jobs[i].Sources = append(jobs[i].Sources, s.name)
	}
	for i := range jobs {
		jobs[i].Name = strings.Join(jobs[i].Sources, "+")
	}
	sort.SliceStable(jobs, func(i, j int) bool { return jobs[i].Name < jobs[j].Name })
	return jobs
}

// Location returns the schedule's time zone (validated by Parse).
func (s Schedule) Location() *time.Location {
	if s.Timezone == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
}

func (c *Config) validateDaemon(bad func(key, msg string)) {
	s := c.Schedule
	for _, f := range []struct {
		key, spec string
		on        *bool
	}{
		{"schedule.default", s.Default, nil},
		{"schedule.mail", s.Mail, c.Sources.Mail.Enabled},
		{"schedule.calendar", s.Calendar, c.Sources.Calendar.Enabled},
		{"schedule.disk", s.Disk, c.Sources.Disk.Enabled},
		{"schedule.contacts", s.Contacts, boolPtr(c.ContactsOn())},
	} {
		if f.spec == "" {
			continue
		}
		if _, err := cron.ParseStandard(f.spec); err != nil {
			bad(f.key, fmt.Sprintf("%q is not a cron schedule (%v): use 5 fields \"min hour day month weekday\" "+
				"such as \"0 * * * *\", or @hourly, @daily, @every 6h", f.spec, err))
			continue
		}
		if f.on != nil && !On(f.on) {
			name := strings.TrimPrefix(f.key, "schedule.")
			bad(f.key, "sources."+name+" is disabled: remove this schedule or enable the source")
		}
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			bad("schedule.timezone", fmt.Sprintf("%q is not a known IANA time zone (e.g. Europe/Moscow, UTC)", s.Timezone))
		}
	}
	if s.Jitter < 0 || s.Jitter > 6*time.Hour {
		bad("schedule.jitter", "must be between 0s and 6h")
	}
	if g := c.Daemon.GracePeriod; g < time.Second || g > 30*time.Minute {
		bad("daemon.grace_period", "must be between 1s and 30m")
	}
	if addr := c.Metrics.ListenAddr(); addr != "" {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad("metrics.listen", fmt.Sprintf("%q: want host:port such as 127.0.0.1:9360, or \"\" to disable", addr))
		}
	}
	if n := c.RateLimits.TokenExchangesPerHour; n < 1 || n > 36000 {
		bad("rate_limits.token_exchanges_per_hour", "must be between 1 and 36000 (Yandex's own tools stay at or below 1000)")
	}
	if r := c.RateLimits.CalDAVRPS; r <= 0 || r > 1000 {
		bad("rate_limits.caldav_rps", "must be above 0 and at most 1000 requests per second")
	}
}

func boolPtr(b bool) *bool { return &b }
