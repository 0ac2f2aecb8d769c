package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon"
	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/internal/y360emu"
)

// world is an emulated organization: the Yandex 360 emulator (directory,
// token exchange, service apps, Disk), an XOAUTH2 IMAP server and a CalDAV
// server that both accept the emulator's tokens.
type world struct {
	t      *testing.T
	emu    *y360emu.Server
	cal    *caldavdemo.Server
	calSrv *httptest.Server
	imap   *imapdemo.Server
	dir    string
	// calWrap, if set, wraps the CalDAV handler (faults, latency, counting).
	calMu   sync.Mutex
	calWrap func(http.Handler) http.Handler
}

func newWorld(t *testing.T, opts y360emu.Options) *world {
	t.Helper()
	w := &world{t: t, emu: y360emu.New(opts), dir: t.TempDir()}
	w.emu.Start()
	t.Cleanup(w.emu.Close)
	w.cal = caldavdemo.New(caldavdemo.Options{Validate: w.emu.ValidateToken})
	w.calSrv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calMu.Lock()
		wrap := w.calWrap
		w.calMu.Unlock()
		var h http.Handler = w.cal
		if wrap != nil {
			h = wrap(h)
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(w.calSrv.Close)
	im, err := imapdemo.Start(w.emu.ValidateToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	w.imap = im
	mtime := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i, u := range w.emu.Users() {
		if u.Blocked || u.Robot {
			continue
		}
		if err := caldavdemo.SeedDemo(w.cal, u.Email); err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 3; k++ {
			msg := fmt.Sprintf("From: boss@example.test\r\nTo: %s\r\nSubject: report %d\r\nMessage-Id: <%d.%d@example.test>\r\n\r\nbody %d\r\n", u.Email, k, i, k, k)
			if _, err := im.Append(u.Email, "INBOX", []byte(msg), nil, mtime); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.emu.DiskPutFile(u.Email, "/Documents/notes.txt", []byte("notes of "+u.Email), mtime); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) wrapCalDAV(f func(http.Handler) http.Handler) {
	w.calMu.Lock()
	w.calWrap = f
	w.calMu.Unlock()
}

// config writes a config for this world plus extra YAML and returns its path.
// contactsOn in a config's extra text enables the contacts source (a YAML
// comment: the sources section is written here, not by extra).
const contactsOn = "# contacts on\n"

func (w *world) config(extra string) string {
	w.t.Helper()
	mail := fmt.Sprintf("{addr: %q, security: plain}", w.imap.Addr())
	y := fmt.Sprintf(`organization:
  id: %q
  admin_token: %s
  client_id: %s
  client_secret: %s
api: {directory_url: %q, oauth_url: %q, rps: 200}
sources:
  mail: %s
  calendar: {url: %q}
  disk: {url: %q}
  contacts: {url: %q, enabled: %v}
repository: {type: fs, path: %q}
spool_dir: %q
`, w.emu.OrgID(), y360emu.DemoAdminToken, y360emu.DemoClientID, y360emu.DemoClientSecret,
		w.emu.URL(), w.emu.OAuthURL(), mail, w.calSrv.URL+"/", w.emu.URL(),
		w.emu.URL()+"/", strings.Contains(extra, contactsOn), // the emulator serves carddav.yandex.ru
		filepath.Join(w.dir, "repo"), w.dir)
	if !strings.Contains(extra, "rate_limits:") {
		y += "rate_limits: {caldav_rps: 500}\n" // tests are not about politeness unless they say so
	}
	f := filepath.Join(w.dir, "config.yaml")
	if err := os.WriteFile(f, []byte(y+extra), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return f
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// debugLogger logs everything, as JSON, into buf.
func debugLogger(buf *syncBuffer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(buf), zapcore.DebugLevel))
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunDaemon runs `y360backup run` against the emulated org at debug log
// level: a backup on start, metrics and health served, systemd told READY /
// WATCHDOG / STOPPING, a broken config rejected on SIGHUP, a clean stop; and
// no secret or minted token anywhere in the log.
func TestRunDaemon(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testRunDaemon(t, false) })
	t.Run("mask_emails", func(t *testing.T) { testRunDaemon(t, true) })
}

func testRunDaemon(t *testing.T, mask bool) {
	w := newWorld(t, y360emu.DefaultOrg())
	cfgFile := w.config(fmt.Sprintf(`schedule: {default: "@hourly"}
daemon: {run_on_start: true, grace_period: 5s}
metrics: {listen: "127.0.0.1:0"}
log: {level: debug, mask_emails: %v}
`, mask))
	alice := "alice@demo.y360.test"
	if mask {
		alice = emailMasker(loadCfg(t, cfgFile)).Email(alice)
		if !strings.HasPrefix(alice, "a[") {
			t.Fatalf("alice's pseudonym %q", alice)
		}
	}
	sock := filepath.Join(w.dir, "notify.sock")
	nconn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nconn.Close()
	var notes []string
	var notesMu sync.Mutex
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := nconn.Read(buf)
			if err != nil {
				return
			}
			notesMu.Lock()
			notes = append(notes, string(buf[:n]))
			notesMu.Unlock()
		}
	}()
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "3000000"}

	var logs syncBuffer
	hup := make(chan os.Signal, 1)
	ready := make(chan struct{})
	var addr string
	var d *daemon.Daemon
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDaemon(ctx, runDeps{
			configFile: cfgFile, hup: hup, getenv: func(k string) string { return env[k] },
			log:   debugLogger(&logs),
			ready: func(a string, dd *daemon.Daemon) { addr, d = a, dd; close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("runDaemon: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("daemon not ready")
	}
	waitUntil(t, "first run", 60*time.Second, func() bool { return len(d.Status().Last) > 0 })
	for job, r := range d.Status().Last {
		if job != "mail+calendar+disk" {
			t.Errorf("job %q, want one job for the three sources on the default schedule", job)
		}
		if r.Status() != backup.StatusOK {
			t.Fatalf("run of %s: %s %v", job, r.Status(), r.Err)
		}
		if r.Snapshot.UsersOK != 6 {
			t.Errorf("run of %s backed up %d users, want the 6 enabled ones", job, r.Snapshot.UsersOK)
		}
	}
	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	_, metricsText := httpGet(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`y360backup_runs_total{job=`,
		`y360backup_user_last_success_timestamp_seconds{source="calendar",user="` + alice + `",user_id="1130000000000001"}`,
		`y360backup_items_total{source="calendar"}`,
		`y360backup_items_total{source="mail"} 18`,
		`y360backup_items_total{source="disk"} 6`,
		`y360backup_scheduler_heartbeat_timestamp_seconds`,
		`y360backup_next_run_timestamp_seconds{job=`,
		`y360backup_http_requests_total{code="200",host=`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// SIGHUP with a broken config: rejected, the old schedule stays.
	before := d.Status().Next
	if err := os.WriteFile(cfgFile, []byte("schedule: {default: 'every hour'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	waitUntil(t, "reload rejected", 10*time.Second, func() bool {
		_, m := httpGet(t, "http://"+addr+"/metrics")
		return strings.Contains(m, `y360backup_config_reloads_total{result="rejected"} 1`)
	})
	if after := d.Status().Next; fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("schedule changed after a rejected reload: %v → %v", before, after)
	}
	if !strings.Contains(logs.String(), "configuration reload rejected") || !strings.Contains(logs.String(), "schedule.default") {
		t.Error("the rejected reload was not logged with its problem")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runDaemon after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runDaemon did not stop")
	}
	got := func() string {
		notesMu.Lock()
		defer notesMu.Unlock()
		return strings.Join(notes, "|")
	}
	waitUntil(t, "STOPPING=1", 5*time.Second, func() bool { return strings.Contains(got(), "STOPPING=1") })
	for _, want := range []string{"READY=1", "WATCHDOG=1", "STOPPING=1"} {
		if !strings.Contains(got(), want) {
			t.Errorf("systemd was not told %s (got %q)", want, got())
		}
	}
	assertNoSecrets(t, logs.String(), w)
	if !strings.Contains(logs.String(), alice) {
		t.Errorf("the log never names %s", alice)
	}
	abs, _ := filepath.Abs(cfgFile)
	if start := `"msg":"y360backup starting","command":"run","version":"` + version + `","config":"` + abs + `"`; !strings.Contains(logs.String(), start) {
		t.Errorf("no start-up line %s in the log", start)
	}
	if mask {
		for _, u := range w.emu.Users() {
			if strings.Contains(logs.String(), u.Email) || strings.Contains(metricsText, u.Email) {
				t.Errorf("%s appears unmasked in the log or /metrics", u.Email)
			}
		}
	}
}

// assertNoSecrets fails if the log holds the client secret, the admin
// token or any token the emulator minted (they all start with "y0_emu.").
func assertNoSecrets(t *testing.T, logs string, w *world) {
	t.Helper()
	if len(logs) < 1000 || !strings.Contains(logs, `"level":"debug"`) {
		t.Fatalf("suspiciously little debug log (%d bytes); the check would prove nothing", len(logs))
	}
	if w.emu.Count("/token") == 0 {
		t.Fatal("no token was minted; the check would prove nothing")
	}
	for name, secret := range map[string]string{
		"client secret": y360emu.DemoClientSecret,
		"admin token":   y360emu.DemoAdminToken,
		"minted token":  y360emu.TokenPrefix,
	} {
		if i := strings.Index(logs, secret); i >= 0 {
			lo := max(0, i-200)
			t.Errorf("the log contains the %s: …%s…", name, logs[lo:min(len(logs), i+100)])
		}
	}
}

// TestSDStatusLine: systemd's STATUS= names every job still running, so
// the end of one of two side-by-side runs does not claim the daemon idle.
func TestSDStatusLine(t *testing.T) {
	var s sdStatus
	for i, tt := range []struct {
		start, end, result string
		want               string
	}{
		{start: "disk", want: "STATUS=backing up disk"},
		{start: "mail", want: "STATUS=backing up disk, mail"},
		{end: "mail", result: "ok", want: "STATUS=backing up disk; last run of mail: ok"},
		{start: "mail", want: "STATUS=backing up disk, mail"},
		{end: "disk", result: "interrupted", want: "STATUS=backing up mail; last run of disk: interrupted"},
		{end: "mail", result: "partial", want: "STATUS=idle; last run of mail: partial"},
	} {
		got := ""
		if tt.start != "" {
			got = s.started(tt.start)
		} else {
			got = s.finished(tt.end, tt.result)
		}
		if got != tt.want {
			t.Errorf("step %d: %q, want %q", i, got, tt.want)
		}
	}
}

func TestRunDaemonRejectsBadConfigAtStart(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte("schedule: {mail: nope}\n"), 0o600)
	err := runDaemon(context.Background(), runDeps{configFile: f, getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), "schedule.mail") || exitCode(err) != exitUsage {
		t.Errorf("err = %v (exit %d), want the config problem and exit %d", err, exitCode(err), exitUsage)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	var healthy = true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		if !healthy {
			http.Error(w, "unhealthy: last run failed", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var out bytes.Buffer
	if err := healthcheck(context.Background(), &out, addr); err != nil || out.String() != "ok\n" {
		t.Errorf("healthy: %v %q", err, out.String())
	}
	healthy = false
	if err := healthcheck(context.Background(), &out, addr); err == nil {
		t.Error("an unhealthy daemon passed the healthcheck")
	}
	_, port, _ := net.SplitHostPort(addr)
	healthy = true
	if err := healthcheck(context.Background(), &out, "0.0.0.0:"+port); err != nil {
		t.Errorf("a wildcard listen address must be asked on loopback: %v", err)
	}
}

func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	p.start(3)
	p.userDone(backup.UserSnapshot{Status: backup.StatusOK})
	p.userDone(backup.UserSnapshot{Status: backup.StatusFailed})
	p.finish()
	if !strings.HasSuffix(b.String(), "users 2/3 done, 1 failed\n") {
		t.Errorf("progress output %q", b.String())
	}
}
