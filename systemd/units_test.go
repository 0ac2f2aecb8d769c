// Package systemd_test checks the unit files in this directory with the
// real systemd-analyze (Debian package "systemd"): they must pass
// `systemd-analyze verify`, and the daemon's sandbox must keep a low
// `systemd-analyze security` exposure score.
package systemd_test

import (
	"github.com/y360backup/y360backup/internal/testpeer"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var units = []string{"y360backup.service", "y360backup-backup.service", "y360backup-backup.timer"}

// maxExposure is the highest acceptable `systemd-analyze security` score
// (0 = locked down, 10 = unprotected). The daemon needs the network and a
// unix socket for sd_notify; that and the host root account for what is left.
const maxExposure = 2.0

func analyzer(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testpeer.Missing(t, "systemd-analyze not found (apt-get install systemd)")
	}
	return p
}

// staged copies the units into a temp dir with ExecStart pointing at a
// stand-in executable, since verify insists the binary exists.
func staged(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "y360backup")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "/usr/local/bin/y360backup", bin)
		if err := os.WriteFile(filepath.Join(dir, u), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestVerify(t *testing.T) {
	sa := analyzer(t)
	dir := staged(t)
	args := []string{"verify"}
	for _, u := range units {
		args = append(args, filepath.Join(dir, u))
	}
	cmd := exec.Command(sa, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

func TestSecurityExposure(t *testing.T) {
	sa := analyzer(t)
	dir := staged(t)
	for _, u := range []string{"y360backup.service", "y360backup-backup.service"} {
		out, err := exec.Command(sa, "security", "--offline=yes", filepath.Join(dir, u)).CombinedOutput()
		if err != nil && strings.Contains(string(out), "offline") {
			t.Skipf("this systemd-analyze has no --offline: %s", out)
		}
		m := exposureRe.FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no exposure score in:\n%s", u, out)
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: systemd-analyze security exposure %.1f", u, score)
		if score > maxExposure {
			t.Errorf("%s: exposure %.1f above %.1f:\n%s", u, score, maxExposure, out)
		}
	}
}

// TestUnitsMatchTheDaemon guards the contract between the units and the
// binary: notify + watchdog for `run`, a plain oneshot for `backup`.
func TestUnitsMatchTheDaemon(t *testing.T) {
	want := map[string][]string{
		"y360backup.service": {"Type=notify", "WatchdogSec=", "ExecStart=/usr/local/bin/y360backup run ",
			"ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes", "StateDirectory=y360backup", "ProtectSystem=strict",
			"NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service"},
		"y360backup-backup.service": {"Type=oneshot", "ExecStart=/usr/local/bin/y360backup backup ", "ProtectSystem=strict"},
		"y360backup-backup.timer":   {"OnCalendar=", "Persistent=yes"},
	}
	for u, lines := range want {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if !strings.Contains(string(b), l) {
				t.Errorf("%s lacks %q", u, l)
			}
		}
	}
}
