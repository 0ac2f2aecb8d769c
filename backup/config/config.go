// Package config reads and checks y360backup's YAML configuration.
//
// Rules: unknown keys are errors (a typo must not silently disable a
// setting); string values may reference environment variables as ${NAME};
// secrets may instead be read from files (admin_token_file and friends) so
// they need not sit in the config; every problem is reported at once with its
// key and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	Organization Organization `yaml:"organization"`
	API          API          `yaml:"api"`
	Users        Users        `yaml:"users"`
	Concurrency  int          `yaml:"concurrency"`
	Sources      Sources      `yaml:"sources"`
	Repository   Repository   `yaml:"repository"`
	SpoolDir     string       `yaml:"spool_dir"`
	CacheDir     string       `yaml:"cache_dir"` // local index-state cache; "" = default, "off" = none
	Log          Log          `yaml:"log"`
	// Daemon-mode sections (y360backup run); see daemon.go.
	Schedule   Schedule   `yaml:"schedule"`
	Daemon     Daemon     `yaml:"daemon"`
	Metrics    Metrics    `yaml:"metrics"`
	RateLimits RateLimits `yaml:"rate_limits"`
}

// Organization identifies the org and the credentials used to reach it.
type Organization struct {
	ID               string `yaml:"id"`
	AdminToken       string `yaml:"admin_token"`
	AdminTokenFile   string `yaml:"admin_token_file"`
	ClientID         string `yaml:"client_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
}

// API holds base URLs (overridable so the emulator can stand in) and politeness.
type API struct {
	DirectoryURL string  `yaml:"directory_url"`
	OAuthURL     string  `yaml:"oauth_url"`
	RPS          float64 `yaml:"rps"`
}

// Users selects whom to back up.
type Users struct {
	Include        []string `yaml:"include"`
	Exclude        []string `yaml:"exclude"`
	IncludeRobots  bool     `yaml:"include_robots"`
	IncludeBlocked bool     `yaml:"include_blocked"`
}

// Sources holds per-source settings.
type Sources struct {
	Mail     Mail     `yaml:"mail"`
	Calendar Calendar `yaml:"calendar"`
	Disk     Disk     `yaml:"disk"`
	Contacts Contacts `yaml:"contacts"`
	Org      Org      `yaml:"org"`
}

// Org configures the organization source (sources/org): the org's own
// objects, once per run. Off unless enabled: it needs more admin scopes.
type Org struct {
	Enabled          bool `yaml:"enabled"`
	PerPage          int  `yaml:"per_page"`           // page size of listings; 0 = 1000
	SkipMailSettings bool `yaml:"skip_mail_settings"` // no per-user forwards/autoreplies/sender info (2 calls per user)
}

// Mail configures the IMAP source.
type Mail struct {
	Enabled            *bool    `yaml:"enabled"`
	Addr               string   `yaml:"addr"`
	Security           string   `yaml:"security"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	CAFile             string   `yaml:"ca_file"` // extra CA (PEM) for a server with a private certificate
	IncludeFolders     []string `yaml:"include_folders"`
	ExcludeFolders     []string `yaml:"exclude_folders"`
	BatchSize          int      `yaml:"batch_size"`
	AppendPipeline     int      `yaml:"append_pipeline"` // restore: APPENDs in flight (0 = 16)
}

// Calendar configures the CalDAV source.
type Calendar struct {
	Enabled          *bool    `yaml:"enabled"`
	URL              string   `yaml:"url"`
	Auth             string   `yaml:"auth"`
	IncludeCalendars []string `yaml:"include_calendars"`
	ExcludeCalendars []string `yaml:"exclude_calendars"`
}

// Contacts configures the CardDAV source. Unlike the others it is off
// unless enabled: its scope (addressbook:all) is not in Yandex's official
// text, and an existing service application lacks it until setup runs.
type Contacts struct {
	Enabled        *bool    `yaml:"enabled"`
	URL            string   `yaml:"url"`
	Auth           string   `yaml:"auth"`    // basic (default: email + token) or oauth
	Home           string   `yaml:"home"`    // home path template; "discover" = RFC 6352 discovery
	Listing        string   `yaml:"listing"` // propfind (default) or ls (Yandex's ?op=ls)
	Scope          string   `yaml:"scope"`   // default addressbook:all (unconfirmed)
	IncludeBooks   []string `yaml:"include_books"`
	ExcludeBooks   []string `yaml:"exclude_books"`
	MaxContactSize string   `yaml:"max_contact_size"`
}

// ContactsOn reports whether the contacts source is enabled (off when unset).
func (c *Config) ContactsOn() bool {
	return c.Sources.Contacts.Enabled != nil && *c.Sources.Contacts.Enabled
}

// Disk configures the Yandex Disk source.
type Disk struct {
	Enabled     *bool    `yaml:"enabled"`
	URL         string   `yaml:"url"`
	Include     []string `yaml:"include"`
	Exclude     []string `yaml:"exclude"`
	MaxFileSize string   `yaml:"max_file_size"`
}

// Repository says where backups are stored.
type Repository struct {
	Type string `yaml:"type"` // fs | s3
	Path string `yaml:"path"` // fs
	S3   S3     `yaml:"s3"`
	// CheckpointInterval is how often a run makes its work durable (packs,
	// index, checkpoints): the most work a crash can cost. 0 = 15 s.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// LeaseTTL is how long a writer's claim on users outlives its last
	// refresh: the longest a crashed writer's users wait. 0 = 5 min.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// S3 configures an S3-compatible bucket.
type S3 struct {
	Bucket        string `yaml:"bucket"`
	Prefix        string `yaml:"prefix"`
	Region        string `yaml:"region"`
	Endpoint      string `yaml:"endpoint"`
	PathStyle     bool   `yaml:"path_style"`
	AccessKey     string `yaml:"access_key"`
	SecretKey     string `yaml:"secret_key"`
	SecretKeyFile string `yaml:"secret_key_file"`
	SSE           string `yaml:"sse"`
	SSEKMSKeyID   string `yaml:"sse_kms_key_id"`
	StorageClass  string `yaml:"storage_class"`
	PartSizeMB    int    `yaml:"part_size_mb"`
	Concurrency   int    `yaml:"concurrency"`
}

// Log configures logging.
type Log struct {
	Format     string `yaml:"format"` // auto | console | json | journald
	Level      string `yaml:"level"`  // debug | info | warn | error
	MaskEmails bool   `yaml:"mask_emails"`
}

// On reports whether a source switch is on (sources default to on).
func On(b *bool) bool { return b == nil || *b }

// Problem is one thing wrong with a config.
type Problem struct {
	Key  string // dotted key, e.g. "sources.mail.security"
	Line int    // 0 when unknown
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Key, p.Msg)
	}
	if p.Key == "" {
		return p.Msg
	}
	return p.Key + ": " + p.Msg
}

// Error lists every problem found.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config %s: %d problem(s):", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p.String())
	}
	return b.String()
}

// Load reads, expands, decodes, defaults and validates the file.
func Load(file string) (*Config, error) {
	data, err := read(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data, os.LookupEnv)
}

// maxConfigBytes and maxSecretBytes bound what is read: a config is a few
// KB, a token or key well under one.
const (
	maxConfigBytes = 1 << 20
	maxSecretBytes = 64 << 10
)

// readSmallFile reads a regular file of at most limit bytes. Anything else
// (a FIFO, which would block, /dev/zero, which never ends, a directory) is
// refused before it is opened.
func readSmallFile(file string, limit int64) ([]byte, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file but %s: give the path of a file", file, fileKind(fi.Mode()))
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB: is it the right file?", file, limit>>10)
	}
	return data, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (it would block)"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file (" + m.Type().String() + ")"
}

// extraDocument finds a second YAML document ("---"), which would be
// silently ignored; it returns its line, 0 if there is none.
func extraDocument(data []byte) int {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if dec.Decode(&first) != nil || dec.Decode(&second) != nil || len(second.Content) == 0 {
		return 0
	}
	if n := second.Content[0]; n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return 0 // a trailing "---" with nothing after it
	}
	return second.Content[0].Line
}

// Parse is Load on bytes, with an injectable environment.
func Parse(file string, data []byte, env func(string) (string, bool)) (*Config, error) {
	cfg, probs := parse(data, env)
	if len(probs) > 0 {
		return nil, &Error{File: file, Problems: probs}
	}
	return cfg, nil
}

// parse decodes the parsed document itself (never a re-marshalled copy, so
// every line is the file's own) and collects every problem: unknown keys,
// each wrong type, unreadable secret files and then the checks of validate
// (except those on a key already reported: a value that did not decode is
// also "missing").
func parse(data []byte, env func(string) (string, bool)) (*Config, []Problem) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, []Problem{{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	lines := map[string]int{}
	var probs []Problem
	if line := extraDocument(data); line > 0 {
		probs = append(probs, Problem{Key: "---", Line: line,
			Msg: "a second YAML document (after ---) would be ignored: keep the whole configuration in one document"})
	}
	cfg := &Config{}
	if len(root.Content) > 0 { // an empty file decodes to the zero Config
		doc := root.Content[0]
		walk(doc, "", lines, func(n *yaml.Node, key string) {
			if err := expandNode(n, env); err != nil {
				probs = append(probs, Problem{Key: key, Line: n.Line, Msg: err.Error()})
			}
		})
		probs = append(probs, unknownKeys(doc, reflect.TypeFor[Config](), "")...)
		if err := doc.Decode(cfg); err != nil {
			probs = append(probs, decodeProblems(err, lines)...)
		}
	}
	cfg.readSecretFiles(&probs, lines)
	cfg.applyDefaults()
	reported := map[string]bool{}
	for _, p := range probs {
		reported[p.Key] = true
	}
	for _, p := range cfg.validate(lines) {
		if !reported[p.Key] {
			probs = append(probs, p)
		}
	}
	sort.SliceStable(probs, func(i, j int) bool { return lineOrder(probs[i]) < lineOrder(probs[j]) })
	return cfg, probs
}

// lineOrder sorts problems by line; those without one (missing keys) last.
func lineOrder(p Problem) int {
	if p.Line == 0 {
		return math.MaxInt
	}
	return p.Line
}

// walk visits scalar values with their dotted keys and records key lines.
func walk(n *yaml.Node, key string, lines map[string]int, fn func(*yaml.Node, string)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if key != "" {
				k = key + "." + k
			}
			lines[k] = n.Content[i].Line
			walk(n.Content[i+1], k, lines, fn)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walk(c, fmt.Sprintf("%s[%d]", key, i), lines, fn)
		}
	case yaml.ScalarNode:
		fn(n, key)
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${NAME} in a scalar. Expansion happens on parsed
// values, so an environment value can never inject YAML structure.
func expandNode(n *yaml.Node, env func(string) (string, bool)) error {
	if !strings.Contains(n.Value, "${") {
		return nil
	}
	var missing []string
	n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := env(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	n.Tag = "!!str"
	n.Style = yaml.DoubleQuotedStyle
	return nil
}

var lineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeProblems turns yaml.v3's TypeError lines (one per value that did
// not fit its key's type) into Problems.
func decodeProblems(err error, lines map[string]int) []Problem {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{{Msg: err.Error()}}
	}
	var out []Problem
	for _, e := range te.Errors {
		p := Problem{Msg: e}
		if m := lineRe.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = m[2]
			p.Key = deepestKeyAtLine(lines, p.Line) // name the value's key
		}
		out = append(out, p)
	}
	return out
}

// deepestKeyAtLine returns the longest key that starts on line (a flow
// mapping puts several on one line; the value in error is usually the last).
func deepestKeyAtLine(lines map[string]int, line int) string {
	best := ""
	for k, l := range lines {
		if l == line && (len(k) > len(best) || (len(k) == len(best) && k > best)) {
			best = k
		}
	}
	return best
}

// readSecretFiles fills secrets from *_file keys.
func (c *Config) readSecretFiles(probs *[]Problem, lines map[string]int) {
	read := func(key, file string, dst *string) {
		if file == "" {
			return
		}
		if *dst != "" {
			*probs = append(*probs, Problem{Key: key, Line: lines[key], Msg: "set either the value or the _file form, not both"})
			return
		}
		b, err := readSmallFile(file, maxSecretBytes)
		if err != nil {
			*probs = append(*probs, Problem{Key: key, Line: lines[key], Msg: err.Error()})
			return
		}
		*dst = strings.TrimSpace(string(b))
		if *dst == "" {
			*probs = append(*probs, Problem{Key: key, Line: lines[key], Msg: "file " + file + " is empty"})
		}
	}
	read("organization.admin_token_file", c.Organization.AdminTokenFile, &c.Organization.AdminToken)
	read("organization.client_secret_file", c.Organization.ClientSecretFile, &c.Organization.ClientSecret)
	read("repository.s3.secret_key_file", c.Repository.S3.SecretKeyFile, &c.Repository.S3.SecretKey)
}

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.API.DirectoryURL, "https://api360.yandex.net")
	def(&c.API.OAuthURL, "https://oauth.yandex.ru/token")
	if c.API.RPS == 0 {
		c.API.RPS = 10
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	def(&c.Sources.Mail.Addr, "imap.yandex.ru:993")
	def(&c.Sources.Mail.Security, "tls")
	if c.Sources.Mail.BatchSize == 0 {
		c.Sources.Mail.BatchSize = 100
	}
	def(&c.Sources.Calendar.URL, "https://caldav.yandex.ru/")
	def(&c.Sources.Calendar.Auth, "oauth")
	def(&c.Sources.Disk.URL, "https://cloud-api.yandex.net")
	def(&c.Sources.Contacts.URL, "https://carddav.yandex.ru/")
	def(&c.Sources.Contacts.Auth, "basic")
	def(&c.Sources.Contacts.Home, "/addressbook/{email}/")
	def(&c.Sources.Contacts.Listing, "propfind")
	def(&c.Sources.Contacts.Scope, "addressbook:all")
	def(&c.Repository.Type, "fs")
	def(&c.Log.Format, "auto")
	def(&c.Log.Level, "info")
	c.applyDaemonDefaults()
}

var digits = regexp.MustCompile(`^[0-9]+$`)

func (c *Config) validate(lines map[string]int) []Problem {
	var ps []Problem
	bad := func(key, msg string) {
		ps = append(ps, Problem{Key: key, Line: lines[key], Msg: msg})
	}
	o := c.Organization
	switch {
	case o.ID == "":
		bad("organization.id", "required: the organization id from admin.yandex.ru (Profile → Organization ID)")
	case !digits.MatchString(o.ID):
		bad("organization.id", fmt.Sprintf("%q is not a numeric organization id", o.ID))
	}
	if o.AdminToken == "" {
		bad("organization.admin_token", "required (or admin_token_file): an OAuth token of an org admin with scope directory:read_users")
	}
	if o.ClientID == "" {
		bad("organization.client_id", "required: the service application's Client ID from oauth.yandex.ru")
	}
	if o.ClientSecret == "" {
		bad("organization.client_secret", "required (or client_secret_file): the service application's Client secret")
	}
	checkURL := func(key, v string) {
		if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
			bad(key, fmt.Sprintf("%q is not an http(s) URL", v))
		}
	}
	checkURL("api.directory_url", c.API.DirectoryURL)
	checkURL("api.oauth_url", c.API.OAuthURL)
	if c.API.RPS < 0 || c.API.RPS > 1000 {
		bad("api.rps", "must be between 0 and 1000 requests per second")
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		bad("concurrency", "must be between 1 and 256 users at a time")
	}
	checkGlobs := func(key string, globs []string) {
		for i, g := range globs {
			if strings.HasPrefix(g, `\`) {
				continue // a special-use attribute such as \Junk
			}
			if _, err := path.Match(g, ""); err != nil {
				bad(fmt.Sprintf("%s[%d]", key, i), fmt.Sprintf("bad glob %q: %v", g, err))
			}
		}
	}
	checkGlobs("users.include", c.Users.Include)
	checkGlobs("users.exclude", c.Users.Exclude)
	m := c.Sources.Mail
	switch m.Security {
	case "tls", "starttls", "plain":
	default:
		bad("sources.mail.security", fmt.Sprintf("%q: use tls (port 993, the default), starttls or plain (tests only)", m.Security))
	}
	if !strings.Contains(m.Addr, ":") {
		bad("sources.mail.addr", fmt.Sprintf("%q: want host:port, e.g. imap.yandex.ru:993", m.Addr))
	}
	if m.BatchSize < 1 || m.BatchSize > 10000 {
		bad("sources.mail.batch_size", "must be between 1 and 10000")
	}
	checkGlobs("sources.mail.include_folders", m.IncludeFolders)
	checkGlobs("sources.mail.exclude_folders", m.ExcludeFolders)
	cal := c.Sources.Calendar
	checkURL("sources.calendar.url", cal.URL)
	if cal.Auth != "oauth" && cal.Auth != "basic" {
		bad("sources.calendar.auth", fmt.Sprintf("%q: use oauth (Yandex) or basic", cal.Auth))
	}
	checkGlobs("sources.calendar.include_calendars", cal.IncludeCalendars)
	checkGlobs("sources.calendar.exclude_calendars", cal.ExcludeCalendars)
	checkURL("sources.disk.url", c.Sources.Disk.URL)
	checkGlobs("sources.disk.include", c.Sources.Disk.Include)
	checkGlobs("sources.disk.exclude", c.Sources.Disk.Exclude)
	if c.Sources.Disk.MaxFileSize != "" {
		if _, err := ParseSize(c.Sources.Disk.MaxFileSize); err != nil {
			bad("sources.disk.max_file_size", err.Error())
		}
	}
	if c.Sources.Org.PerPage < 0 || c.Sources.Org.PerPage > 1000 {
		bad("sources.org.per_page", "must be between 1 and 1000 (0 = 1000)")
	}
	c.validateContacts(checkURL, checkGlobs, bad)
	if !On(m.Enabled) && !On(cal.Enabled) && !On(c.Sources.Disk.Enabled) && !c.ContactsOn() && !c.Sources.Org.Enabled {
		bad("sources", "every source is disabled: nothing would be backed up")
	}
	r := c.Repository
	if r.CheckpointInterval != 0 && (r.CheckpointInterval < 100*time.Millisecond || r.CheckpointInterval > time.Hour) {
		bad("repository.checkpoint_interval", fmt.Sprintf("%s: use 100ms to 1h (default 15s)", r.CheckpointInterval))
	}
	if r.LeaseTTL != 0 && (r.LeaseTTL < time.Second || r.LeaseTTL > 24*time.Hour) {
		bad("repository.lease_ttl", fmt.Sprintf("%s: use 1s to 24h (default 5m); it must stay well above the clock skew between writers and the store", r.LeaseTTL))
	}
	switch r.Type {
	case "fs":
		if r.Path == "" {
			bad("repository.path", "required for type fs: the directory that holds the repository")
		}
	case "s3":
		if r.S3.Bucket == "" {
			bad("repository.s3.bucket", "required for type s3")
		}
		if (r.S3.AccessKey == "") != (r.S3.SecretKey == "") {
			bad("repository.s3.access_key", "set both access_key and secret_key, or neither (then the AWS default credential chain is used)")
		}
		if r.S3.Endpoint != "" {
			checkURL("repository.s3.endpoint", r.S3.Endpoint)
		}
		switch r.S3.SSE {
		case "", "AES256", "aws:kms":
		default:
			bad("repository.s3.sse", fmt.Sprintf("%q: use AES256 or aws:kms", r.S3.SSE))
		}
	default:
		bad("repository.type", fmt.Sprintf("%q: use fs or s3", r.Type))
	}
	switch c.Log.Format {
	case "auto", "console", "json", "journald":
	default:
		bad("log.format", fmt.Sprintf("%q: use auto, console, json or journald", c.Log.Format))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", fmt.Sprintf("%q: use debug, info, warn or error", c.Log.Level))
	}
	c.validateDaemon(bad)
	return ps
}

// ParseSize parses "10MB", "2GiB", "512k" or a plain byte count.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size like 512MB or 2GiB", s)
	}
	return int64(n * float64(mult)), nil
}

// UserSelected applies users.include/exclude globs (on the email) and the
// robot/blocked switches. It returns the reason for a no.
func (u Users) Selected(email string, robot, enabled bool) (bool, string) {
	email = strings.ToLower(email)
	if robot && !u.IncludeRobots {
		return false, "robot account (users.include_robots)"
	}
	if !enabled && !u.IncludeBlocked {
		return false, "blocked user (users.include_blocked)"
	}
	if len(u.Include) > 0 && !matchAny(u.Include, email) {
		return false, "not matched by users.include"
	}
	if matchAny(u.Exclude, email) {
		return false, "matched by users.exclude"
	}
	return true, ""
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(strings.ToLower(g), s); ok {
			return true
		}
	}
	return false
}
