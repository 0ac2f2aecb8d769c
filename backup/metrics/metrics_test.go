package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon/logmask"
	"github.com/y360backup/y360backup/backup/metrics"
)

var now = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func TestRunAndUserMetrics(t *testing.T) {
	m := metrics.New(metrics.Options{Now: func() time.Time { return now }, UserLabel: logmask.New([]byte("k")).Email, Version: "test"})
	m.RunStarted("mail+calendar")
	m.Start("mail+calendar", 2)
	m.UserDone("mail+calendar", backup.UserSnapshot{ID: "1", Email: "alice@example.com", Sources: map[string]*backup.SourceSnapshot{
		"mail":     {Status: backup.StatusPartial, Stats: backup.Stats{Items: 10, Bytes: 1000, Failed: 2, UploadedBytes: 300, IndexBytes: 20}},
		"calendar": {Status: backup.StatusOK, Stats: backup.Stats{Items: 3, Bytes: 90}},
	}})
	m.UserDone("mail+calendar", backup.UserSnapshot{ID: "2", Email: "anna@example.com", Sources: map[string]*backup.SourceSnapshot{
		"mail": {Status: backup.StatusFailed, Error: "login refused"},
	}})
	m.RunFinished("mail+calendar", "partial", true, 90*time.Second)
	m.HTTP("oauth.yandex.ru", 429, 2*time.Second, true)
	m.HTTP("oauth.yandex.ru", 200, 0, false)
	m.Skipped("mail+calendar")
	m.Reload(errors.New("bad"))
	m.Reload(nil)

	checks := map[string]float64{
		`y360backup_items_total{source="mail"}`:                             10,
		`y360backup_bytes_total{source="calendar"}`:                         90,
		`y360backup_stored_bytes_total{source="mail"}`:                      320,
		`y360backup_errors_total{kind="item",source="mail"}`:                2,
		`y360backup_errors_total{kind="source",source="mail"}`:              1,
		`y360backup_runs_total{job="mail+calendar",status="partial"}`:       1,
		`y360backup_last_run_success{job="mail+calendar"}`:                  1,
		`y360backup_run_in_progress{job="mail+calendar"}`:                   0,
		`y360backup_run_users_done{job="mail+calendar"}`:                    2,
		`y360backup_run_users_selected{job="mail+calendar"}`:                2,
		`y360backup_http_throttled_total{host="oauth.yandex.ru"}`:           1,
		`y360backup_http_requests_total{code="429",host="oauth.yandex.ru"}`: 1,
		`y360backup_http_wait_seconds_total{host="oauth.yandex.ru"}`:        2,
		`y360backup_runs_skipped_total{job="mail+calendar"}`:                1,
		`y360backup_config_reloads_total{result="rejected"}`:                1,
		`y360backup_build_info{version="test"}`:                             1,
	}
	text := scrape(t, m)
	for series, v := range checks {
		if !hasSample(text, series, v) {
			t.Errorf("missing %s %v in:\n%s", series, v, grep(text, strings.SplitN(series, "{", 2)[0]))
		}
	}
	if strings.Contains(text, `user_id="2"`) {
		t.Error("a user whose source failed got a recovery point")
	}
	if strings.Contains(text, "alice@") || strings.Contains(text, "anna@") {
		t.Error("an unmasked email reached /metrics")
	}
}

// TestProgressOfJobsSideBySide: jobs with disjoint sources run at the same
// time; each keeps its own progress and in-progress flag.
func TestProgressOfJobsSideBySide(t *testing.T) {
	m := metrics.New(metrics.Options{Now: func() time.Time { return now }})
	user := func(id, source string) backup.UserSnapshot {
		return backup.UserSnapshot{ID: id, Email: id + "@example.com", Sources: map[string]*backup.SourceSnapshot{
			source: {Status: backup.StatusOK, Stats: backup.Stats{Items: 1}}}}
	}
	m.RunStarted("disk")
	m.Start("disk", 5)
	m.UserDone("disk", user("1", "disk"))
	m.RunStarted("mail") // mail starts while disk runs ...
	m.Start("mail", 3)
	m.UserDone("mail", user("1", "mail"))
	m.UserDone("disk", user("2", "disk"))
	m.UserDone("mail", user("2", "mail"))
	m.UserDone("mail", user("3", "mail"))
	m.RunFinished("mail", "ok", true, time.Minute) // ... and ends first
	m.UserDone("disk", user("3", "disk"))

	text := scrape(t, m)
	for series, v := range map[string]float64{
		`y360backup_run_users_selected{job="disk"}`: 5,
		`y360backup_run_users_done{job="disk"}`:     3,
		`y360backup_run_in_progress{job="disk"}`:    1,
		`y360backup_run_users_selected{job="mail"}`: 3,
		`y360backup_run_users_done{job="mail"}`:     3,
		`y360backup_run_in_progress{job="mail"}`:    0,
		`y360backup_items_total{source="disk"}`:     3,
		`y360backup_items_total{source="mail"}`:     3,
	} {
		if !hasSample(text, series, v) {
			t.Errorf("missing %s %v in:\n%s", series, v, grep(text, strings.SplitN(series, "{", 2)[0]))
		}
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, ln, m, func() error { return nil }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func hasSample(text, series string, v float64) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, series+" ") {
			var got float64
			_, err := fmt.Sscan(strings.TrimPrefix(line, series+" "), &got)
			return err == nil && got == v
		}
	}
	return false
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHealthz(t *testing.T) {
	m := metrics.New(metrics.Options{})
	var healthErr error
	h := metrics.Handler(m, func() error { return healthErr })
	srv := &http.Server{Handler: h}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/healthz"
	for _, tt := range []struct {
		err  error
		code int
		body string
	}{
		{nil, 200, "ok"},
		{errors.New("last run of mail failed: repository is locked"), 503, "repository is locked"},
	} {
		healthErr = tt.err
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.body) {
			t.Errorf("healthz with %v: %d %q", tt.err, resp.StatusCode, b)
		}
	}
}
