package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
organization:
  id: "123"
  admin_token: ${ADMIN}
  client_id: cid
  client_secret_file: SECRETFILE
users:
  exclude: ["ceo@*"]
sources:
  mail:
    security: starttls
    addr: 127.0.0.1:1143
    exclude_folders: ['\Junk', "Archive|*"]
repository:
  type: fs
  path: /tmp/repo
`

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseGood(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "secret")
	os.WriteFile(sf, []byte("s3cr3t\n"), 0o600)
	data := strings.ReplaceAll(good, "SECRETFILE", sf)
	c, err := Parse("c.yaml", []byte(data), env(map[string]string{"ADMIN": "tok: {x}"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Organization.AdminToken != "tok: {x}" {
		t.Errorf("env expansion: %q (must be literal, no YAML injection)", c.Organization.AdminToken)
	}
	if c.Organization.ClientSecret != "s3cr3t" {
		t.Errorf("secret file: %q", c.Organization.ClientSecret)
	}
	if c.Concurrency != 4 || c.API.RPS != 10 || c.Sources.Calendar.URL != "https://caldav.yandex.ru/" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if !On(c.Sources.Mail.Enabled) {
		t.Error("mail should default to enabled")
	}
	if c.Sources.Org.Enabled {
		t.Error("the org source must be opt-in (it needs more admin scopes)")
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings, all must appear
	}{
		{"unknown key", "organization:\n  id: '1'\n  admin_tokn: x\n", []string{"line 3: organization.admin_tokn: unknown key"}},
		{"missing env", "organization:\n  id: '1'\n  admin_token: ${NOPE}\n", []string{"line 3: organization.admin_token: environment variable NOPE is not set"}},
		{"everything missing", "{}", []string{"organization.id: required", "organization.admin_token: required", "organization.client_id", "repository.path"}},
		{"bad values", "organization: {id: abc, admin_token: t, client_id: c, client_secret: s}\nconcurrency: 0\nsources: {mail: {security: ssl}}\nrepository: {type: ftp}\n",
			[]string{`"abc" is not a numeric`, "sources.mail.security", "repository.type", "line 3"}},
		{"bad yaml", "organization: [\n", []string{"not valid YAML"}},
		{"wrong type", "concurrency: lots\n", []string{"line 1", "lots"}},
		{"bad glob", "users: {include: ['[']}\n", []string{"users.include[0]: bad glob"}},
		{"both secret forms", "organization: {client_secret: a, client_secret_file: /etc/passwd}\n", []string{"either the value or the _file form"}},
		{"org page size", "sources: {org: {enabled: true, per_page: 5000}}\n", []string{"sources.org.per_page: must be between 1 and 1000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n lacks %q", err, w)
				}
			}
		})
	}
}

func TestUsersSelected(t *testing.T) {
	u := Users{Include: []string{"*@corp.test"}, Exclude: []string{"ceo@*"}}
	tests := []struct {
		email          string
		robot, enabled bool
		want           bool
	}{
		{"alice@corp.test", false, true, true},
		{"Alice@CORP.test", false, true, true},
		{"ceo@corp.test", false, true, false},
		{"bob@other.test", false, true, false},
		{"robot@corp.test", true, true, false},
		{"blocked@corp.test", false, false, false},
	}
	for _, tt := range tests {
		if got, why := u.Selected(tt.email, tt.robot, tt.enabled); got != tt.want {
			t.Errorf("%s: %v (%s), want %v", tt.email, got, why, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "1KiB": 1024, "2MB": 2e6, "1.5G": 1.5 * (1 << 30), "512k": 512 << 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSize("lots"); err == nil {
		t.Error("ParseSize(lots) succeeded")
	}
}

// base is a minimal valid config that the daemon-section tests extend.
const base = "organization: {id: '1', admin_token: t, client_id: c, client_secret: s}\nrepository: {path: /r}\n"

func TestDaemonDefaults(t *testing.T) {
	c, err := Parse("c.yaml", []byte(base), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Schedule.Default != DefaultSchedule || c.Schedule.Jitter != 0 || c.Daemon.GracePeriod != DefaultGracePeriod {
		t.Errorf("schedule/daemon defaults: %+v %+v", c.Schedule, c.Daemon)
	}
	if c.Metrics.ListenAddr() != DefaultMetricsListen {
		t.Errorf("metrics listen default: %q", c.Metrics.ListenAddr())
	}
	if c.RateLimits.TokenExchangesPerHour != DefaultTokenExchangesPerHour || c.RateLimits.TokenExchangesPerHour >= 1000 {
		t.Errorf("token exchange default %d must be set and below Yandex's 1000/h", c.RateLimits.TokenExchangesPerHour)
	}
	jobs := c.Jobs()
	if len(jobs) != 1 || jobs[0].Name != "mail+calendar+disk" || jobs[0].Spec != DefaultSchedule {
		t.Errorf("jobs: %+v", jobs)
	}
	off, err := Parse("c.yaml", []byte(base+"metrics: {listen: ''}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if off.Metrics.ListenAddr() != "" {
		t.Errorf("an empty listen must disable metrics, got %q", off.Metrics.ListenAddr())
	}
}

func TestJobsGroupBySchedule(t *testing.T) {
	y := base + `schedule:
  default: "0 * * * *"
  calendar: "0 * * * *"
  disk: "CRON_TZ=Europe/Moscow 30 2 * * *"
  timezone: Asia/Yekaterinburg
  jitter: 90s
`
	c, err := Parse("c.yaml", []byte(y), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	jobs := c.Jobs()
	if len(jobs) != 2 || jobs[0].Name != "disk" || jobs[1].Name != "mail+calendar" || jobs[1].Spec != "0 * * * *" {
		t.Fatalf("jobs: %+v", jobs)
	}
	if c.Schedule.Location().String() != "Asia/Yekaterinburg" || c.Schedule.Jitter != 90*time.Second {
		t.Errorf("timezone/jitter: %v %v", c.Schedule.Location(), c.Schedule.Jitter)
	}
	c2, err := Parse("c.yaml", []byte(base+"sources: {disk: {enabled: false}}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if j := c2.Jobs(); len(j) != 1 || j[0].Name != "mail+calendar" {
		t.Errorf("a disabled source must not be scheduled: %+v", j)
	}
}

func TestDaemonProblems(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"bad spec", "schedule:\n  mail: 'every hour'\n", []string{"line 4: schedule.mail:", "not a cron schedule"}},
		{"six fields", "schedule: {default: '0 0 * * * *'}\n", []string{"schedule.default"}},
		{"bad zone", "schedule:\n  timezone: Mars/Olympus\n", []string{"line 4: schedule.timezone", "IANA"}},
		{"negative jitter", "schedule: {jitter: -1m}\n", []string{"schedule.jitter"}},
		{"bad duration", "daemon:\n  grace_period: soon\n", []string{"line 4: daemon.grace_period:", "soon"}},
		{"tiny grace", "daemon: {grace_period: 10ms}\n", []string{"daemon.grace_period"}},
		{"listen", "metrics: {listen: 'localhost'}\n", []string{"metrics.listen", "host:port"}},
		{"rate", "rate_limits:\n  token_exchanges_per_hour: -5\n  caldav_rps: -1\n",
			[]string{"line 4: rate_limits.token_exchanges_per_hour", "line 5: rate_limits.caldav_rps"}},
		{"disabled source", "sources: {disk: {enabled: false}}\nschedule:\n  disk: '@daily'\n", []string{"line 5: schedule.disk", "disabled"}},
		{"unknown key", "schedule:\n  mial: '@daily'\n", []string{"line 4: schedule.mial: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(base+tt.yaml), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n lacks %q", err, w)
				}
			}
		})
	}
}

// TestExampleConfigIsValid keeps config.example.yaml loadable: every key it
// shows must exist and every value must pass validation.
func TestExampleConfigIsValid(t *testing.T) {
	b, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("config.example.yaml", b, func(string) (string, bool) { return "from-env", true })
	if err != nil {
		t.Fatal(err)
	}
	if c.Schedule.Default != DefaultSchedule || c.Metrics.ListenAddr() != DefaultMetricsListen ||
		c.RateLimits.TokenExchangesPerHour != DefaultTokenExchangesPerHour || c.RateLimits.CalDAVRPS != DefaultCalDAVRPS ||
		c.Daemon.GracePeriod != DefaultGracePeriod {
		t.Errorf("the example shows values other than the defaults: %+v %+v %+v %+v", c.Schedule, c.Daemon, c.Metrics, c.RateLimits)
	}
}

// Issue 16.1/16.7: what Load refuses before decoding, and a second document.
func TestLoadRefusesHostileFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skip("no mkfifo:", err)
	}
	big := filepath.Join(dir, "big.yaml")
	os.WriteFile(big, []byte(base+"# "+strings.Repeat("x", maxConfigBytes)+"\n"), 0o600)
	two := filepath.Join(dir, "two.yaml")
	os.WriteFile(two, []byte(base+"---\nconcurrency: 9\n"), 0o600)
	trailing := filepath.Join(dir, "trailing.yaml")
	os.WriteFile(trailing, []byte(base+"---\n"), 0o600)
	secret := filepath.Join(dir, "secret.yaml")
	os.WriteFile(secret, []byte("organization: {id: '1', admin_token_file: /dev/zero, client_id: c, client_secret: s}\nrepository: {path: /r}\n"), 0o600)
	for _, c := range []struct {
		file string
		want []string // "" = loads
	}{
		{fifo, []string{"not a regular file", "named pipe"}}, // would block forever
		{"/dev/zero", []string{"not a regular file", "device"}},
		{dir, []string{"not a regular file"}},
		{big, []string{"larger than 1024 KiB"}},
		{two, []string{"line 4", "second YAML document"}},
		{trailing, nil},
		{secret, []string{"organization.admin_token_file", "/dev/zero is not a regular file"}},
	} {
		_, err := Load(c.file)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(c.file), err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: loaded", c.file)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v (want %q)", filepath.Base(c.file), err, w)
			}
		}
	}
}
