package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/backup/daemon"
	"github.com/y360backup/y360backup/internal/y360emu"
)

// rendezvous holds the first request of each side until the other side has
// sent one too, so passing it proves both runs were in progress at once. A
// side that waits too long is answered 503 and the miss recorded.
type rendezvous struct {
	arrived map[string]chan struct{}
	once    map[string]*sync.Once
	missed  atomic.Int32
}

func newRendezvous(sides ...string) *rendezvous {
	r := &rendezvous{arrived: map[string]chan struct{}{}, once: map[string]*sync.Once{}}
	for _, s := range sides {
		r.arrived[s], r.once[s] = make(chan struct{}), new(sync.Once)
	}
	return r
}

func (r *rendezvous) gate(side, other string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.once[side].Do(func() { close(r.arrived[side]) })
		select {
		case <-r.arrived[other]:
		case <-time.After(15 * time.Second):
			r.missed.Add(1)
			http.Error(w, side+" waited in vain for "+other+" to run at the same time", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// TestRunDaemonJobsSideBySide: with mail and calendar hourly and Disk daily,
// `y360backup run` starts both jobs at once against one repository; each
// only gets past its first request once the other job has sent one, and
// both finish with every user backed up.
func TestRunDaemonJobsSideBySide(t *testing.T) {
	w := newWorld(t, y360emu.DefaultOrg())
	meet := newRendezvous("disk", "calendar")
	w.wrapCalDAV(func(h http.Handler) http.Handler { return meet.gate("calendar", "disk", h) })
	emu, err := url.Parse(w.emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	diskProxy := httptest.NewServer(meet.gate("disk", "calendar", httputil.NewSingleHostReverseProxy(emu)))
	t.Cleanup(diskProxy.Close)

	cfgFile := w.config(`schedule: {default: "@daily", mail: "@hourly", calendar: "@hourly"}
daemon: {run_on_start: true, grace_period: 5s}
metrics: {listen: "127.0.0.1:0"}
`)
	raw, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	diskLine := fmt.Sprintf("disk: {url: %q}", w.emu.URL())
	if !strings.Contains(string(raw), diskLine) {
		t.Fatalf("config has no %s line to point at the proxy", diskLine)
	}
	raw = []byte(strings.Replace(string(raw), diskLine, fmt.Sprintf("disk: {url: %q}", diskProxy.URL), 1))
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	ready := make(chan struct{})
	var addr string
	var d *daemon.Daemon
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDaemon(ctx, runDeps{configFile: cfgFile, getenv: func(string) string { return "" },
			log:   debugLogger(new(syncBuffer)),
			ready: func(a string, dd *daemon.Daemon) { addr, d = a, dd; close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("runDaemon: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("daemon not ready")
	}
	waitUntil(t, "both runs", 60*time.Second, func() bool { return len(d.Status().Last) == 2 || meet.missed.Load() > 0 })
	if n := meet.missed.Load(); n > 0 {
		t.Fatalf("a request waited in vain: the jobs did not run at the same time (status %+v)", d.Status())
	}
	for _, job := range []string{"disk", "mail+calendar"} {
		r, ok := d.Status().Last[job]
		if !ok || r.Status() != backup.StatusOK || r.Snapshot.UsersOK != 6 {
			t.Errorf("run of %s: present %v, %s, %v; want ok with the 6 enabled users", job, ok, r.Status(), r.Err)
		}
	}
	_, metricsText := httpGet(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`y360backup_items_total{source="mail"} 18`,
		`y360backup_items_total{source="disk"} 6`,
		`y360backup_run_users_done{job="disk"} 6`,
		`y360backup_run_users_done{job="mail+calendar"} 6`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
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
}

// TestPoliteTransportKeptAcrossReload: runs of the old plan can outlive a
// reload beside the new plan's runs, so a reload that leaves the limits
// alone must hand out the same transport (one budget per host), and one
// that changes them a new one.
func TestPoliteTransportKeptAcrossReload(t *testing.T) {
	cfgWith := func(caldavRPS float64, exchanges int) *config.Config {
		cfg := &config.Config{}
		cfg.API.OAuthURL = "https://oauth.example.test/token"
		cfg.Sources.Calendar.URL = "https://caldav.example.test/"
		cfg.RateLimits.CalDAVRPS = caldavRPS
		cfg.RateLimits.TokenExchangesPerHour = exchanges
		return cfg
	}
	pt := &politeTransports{log: zap.NewNop()}
	first := pt.get(cfgWith(20, 900))
	for i, tt := range []struct {
		cfg  *config.Config
		same bool // the transport handed out before
	}{
		{cfgWith(20, 900), true},
		{cfgWith(8, 900), false},
		{cfgWith(8, 900), true},
		{cfgWith(8, 500), false},
	} {
		prev := pt.tr
		got := pt.get(tt.cfg)
		if (got == prev) != tt.same {
			t.Errorf("reload %d: same transport %v, want %v", i, got == prev, tt.same)
		}
	}
	if pt.tr == first {
		t.Error("changed limits never produced a new transport")
	}
}
