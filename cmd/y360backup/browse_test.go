package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/demo"
)

// runCLI runs the built binary and returns stdout and the exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Logf("%v: exit %d\n%s", args, code, errb.String())
	}
	return out.String(), code
}

// The browsing commands on the demo's repository: snapshots, ls at each
// level, export, verify, and the exit codes for usage errors and damage.
func TestCLIBrowseDemoRepository(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := demo.Run(context.Background(), demo.Options{Dir: repo, Small: true}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("organization: {id: '1', admin_token: x, client_id: y, client_secret: z}\nrepository: {path: "+repo+"}\n"), 0o600)

	out, code := runCLI(t, "snapshots", "-c", cfg, "--json")
	var snaps []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &snaps) != nil || len(snaps) != 3 {
		t.Fatalf("snapshots: exit %d, %d snapshots\n%s", code, len(snaps), out)
	}
	out, code = runCLI(t, "ls", "-c", cfg)
	if code != 0 || !strings.Contains(out, "alice@demo.y360.test") {
		t.Errorf("ls: %d\n%s", code, out)
	}
	out, code = runCLI(t, "ls", "-c", cfg, "alice@demo.y360.test")
	if code != 0 || !strings.Contains(out, "Проекты|Сервер") || !strings.Contains(out, "events-default") || !strings.Contains(out, "disk") {
		t.Errorf("ls user: %d\n%s", code, out)
	}
	out, code = runCLI(t, "ls", "-c", cfg, "alice@demo.y360.test", "mail", "INBOX", "--json")
	var items []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) < 5 {
		t.Errorf("ls items: %d, %d items", code, len(items))
	}
	out, code = runCLI(t, "ls", "-c", cfg, "alice@demo.y360.test", "contacts", "1", "--json")
	var cards []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &cards) != nil || len(cards) != 3 {
		t.Errorf("ls contacts: exit %d, %d cards, want 3\n%s", code, len(cards), out)
	}
	// The first snapshot still has the message the second run saw deleted.
	first := snaps[0]["id"].(string)
	out1, _ := runCLI(t, "ls", "-c", cfg, "--snapshot", first, "alice@demo.y360.test", "mail", "INBOX", "--json")
	var items1 []map[string]any
	json.Unmarshal([]byte(out1), &items1)
	if len(items1) != len(items) { // +1 new, -1 deleted
		t.Errorf("first snapshot INBOX %d items, latest %d", len(items1), len(items))
	}

	exp := filepath.Join(dir, "export")
	if out, code = runCLI(t, "export", "-c", cfg, "-u", "alice@demo.y360.test", "--out", exp); code != 0 {
		t.Fatalf("export: %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(exp, "alice@demo.y360.test", "calendar", "events-default.ics")); err != nil {
		t.Errorf("export lacks the merged calendar: %v", err)
	}
	merged, err := os.ReadFile(filepath.Join(exp, "alice@demo.y360.test", "contacts", "1.vcf"))
	if err != nil || bytes.Count(merged, []byte("BEGIN:VCARD")) != 3 {
		t.Errorf("export: merged contacts 1.vcf holds %d cards (err %v), want 3", bytes.Count(merged, []byte("BEGIN:VCARD")), err)
	}
	one, _ := filepath.Glob(filepath.Join(exp, "alice@demo.y360.test", "contacts", "1", "*.vcf"))
	if len(one) != 3 {
		t.Errorf("export: %d per-contact .vcf files, want 3", len(one))
	}
	if out, code = runCLI(t, "verify", "-c", cfg); code != 0 || !strings.Contains(out, "objects read") {
		t.Errorf("verify: %d\n%s", code, out)
	}
	if _, code = runCLI(t, "ls", "-c", cfg, "--at", "not a time"); code != exitUsage {
		t.Errorf("bad --at: exit %d, want %d", code, exitUsage)
	}
	// Damage one object the newest snapshot uses: verify names it and exits 1.
	// (An arbitrary object may belong only to an item deleted since.)
	r := openTestRepo(t, repo)
	latest, err := r.FindSnapshot(context.Background(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	r.Select(context.Background(), latest, backup.Selection{Users: []string{"alice@demo.y360.test"}, Sources: []string{"mail"}},
		func(sc backup.SelectedContainer) error {
			if victim == "" && len(sc.Items) > 0 {
				victim = sc.Items[0].Hash
			}
			return nil
		})
	err = r.DamageObject(context.Background(), victim, func(key string, data []byte) error {
		p := filepath.Join(repo, filepath.FromSlash(key))
		os.Chmod(p, 0o600)
		return os.WriteFile(p, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, code = runCLI(t, "verify", "-c", cfg); code != exitFailure || !strings.Contains(out, "PROBLEM") {
		t.Errorf("verify after damage: exit %d\n%s", code, out)
	}
}

func TestConfigCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("organization:\n  id: abc\n  admin_tokn: x\n"), 0o600)
	cmd := exec.Command(buildBinary(t), "config", "check", "-c", bad)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitUsage || !strings.Contains(string(out), "line 3: organization.admin_tokn: unknown key") {
		t.Errorf("config check: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	// The shipped example must load (with its ${ENV} references set).
	cmd = exec.Command(buildBinary(t), "config", "check", "-c", "../../config.example.yaml")
	cmd.Env = append(os.Environ(), "Y360_ADMIN_TOKEN=t", "Y360_CLIENT_SECRET=s")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("config.example.yaml: %v\n%s", err, out)
	}
}
