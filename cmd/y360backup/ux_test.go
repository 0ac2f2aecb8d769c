package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/export"
	"github.com/y360backup/y360backup/backup/lease"
	"github.com/y360backup/y360backup/internal/demo"
	"github.com/y360backup/y360backup/internal/testpeer/s3peer"
)

// runCLIEnv runs the built binary with extra environment and returns
// stdout, stderr and the exit code.
func runCLIEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// The repository commands on the demo's repository with -r (or
// Y360BACKUP_REPOSITORY) and no config file at all; --at with what
// snapshots prints; the exit codes of usage errors, a missing config, no
// repository and names the snapshot does not have.
func TestCLIReadOnlyWithRepoFlag(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := demo.Run(context.Background(), demo.Options{Dir: repo, Small: true}); err != nil {
		t.Fatal(err)
	}
	noConfig := "Y360BACKUP_CONFIG=" + filepath.Join(dir, "absent.yaml")
	run := func(args ...string) (string, string, int) { return runCLIEnv(t, nil, args...) }

	out, errs, code := run("-r", repo, "snapshots")
	if code != 0 || !strings.Contains(out, "TIME") {
		t.Fatalf("snapshots -r: exit %d\n%s%s", code, out, errs)
	}
	// Each printed TIME given to --at picks that very snapshot.
	row := regexp.MustCompile(`(?m)^([0-9a-f]{16})\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)\s`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 3 {
		t.Fatalf("want 3 snapshot rows:\n%s", out)
	}
	for _, r := range rows {
		lsOut, errs, code := run("-r", repo, "ls", "--at", r[2])
		if code != 0 || !strings.Contains(lsOut, "snapshot "+r[1]) {
			t.Errorf("--at %q: exit %d, want snapshot %s\n%s%s", r[2], code, r[1], lsOut, errs)
		}
	}
	// The environment names the repository; a date means its whole day.
	date := rows[0][2][:10]
	if lsOut, _, code := runCLIEnv(t, []string{"Y360BACKUP_REPOSITORY=" + repo, noConfig}, "ls", "--at", date); code != 0 || !strings.Contains(lsOut, "snapshot "+rows[2][1]) {
		t.Errorf("env repository, --at %s: exit %d\n%s", date, code, lsOut)
	}
	// Export announces the snapshot it reads, refuses a non-empty
	// directory, streams tar to stdout.
	exp := filepath.Join(dir, "exp")
	if _, errs, code := run("-r", repo, "export", "-u", "alice@demo.y360.test", "--source", "calendar", "--out", exp); code != 0 || !strings.Contains(errs, "using snapshot "+rows[2][1]) {
		t.Errorf("export: exit %d\n%s", code, errs)
	}
	if _, errs, code := run("-r", repo, "export", "--out", exp); code != exitUsage || !strings.Contains(errs, "not empty") || strings.Contains(errs, "backup finished") {
		t.Errorf("export into a non-empty dir: exit %d\n%s", code, errs)
	}
	tarOut, errs, code := run("-r", repo, "export", "-u", "alice@demo.y360.test", "--source", "calendar", "--out", "-")
	names := tarNames(t, tarOut)
	if code != 0 || !names[export.ManifestName] || !names["alice@demo.y360.test/calendar/events-default.ics"] {
		t.Errorf("export --out -: exit %d, entries %v\n%s", code, names, errs)
	}
	if _, _, code := run("-r", repo, "verify", "--sample", "0.5"); code != 0 {
		t.Errorf("verify -r: exit %d", code)
	}

	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"unknown flag", []string{"-r", repo, "snapshots", "--bogus"}, exitUsage},
		{"unknown command", []string{"snapshotz"}, exitUsage},
		{"unknown subcommand", []string{"config", "chek"}, exitUsage},
		{"extra argument", []string{"-r", repo, "snapshots", "extra"}, exitUsage},
		{"missing config", []string{"-c", filepath.Join(dir, "absent.yaml"), "snapshots"}, exitUsage},
		{"verify --sample 2", []string{"-r", repo, "verify", "--sample", "2"}, exitUsage},
		{"ls unknown container", []string{"-r", repo, "ls", "alice@demo.y360.test", "mail", "NoSuchFolder"}, exitUsage},
		{"ls unknown user", []string{"-r", repo, "ls", "nobody@demo.y360.test"}, exitUsage},
		{"unknown snapshot", []string{"-r", repo, "ls", "--snapshot", "ffffffffff"}, exitUsage},
		{"no repository", []string{"-r", filepath.Join(dir, "nothing-here"), "snapshots"}, exitNoRepo},
		{"bad s3 spec", []string{"-r", "s3:", "snapshots"}, exitUsage},
	} {
		out, errs, code := runCLIEnv(t, []string{noConfig}, tt.args...)
		if code != tt.want {
			t.Errorf("%s: exit %d, want %d\n%s%s", tt.name, code, tt.want, out, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing-here")); err == nil {
		t.Error("a read-only command created a repository")
	}
}

func tarNames(t *testing.T, s string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	tr := tar.NewReader(strings.NewReader(s))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Errorf("tar stream: %v", err)
			return names
		}
		names[h.Name] = true
	}
}

func TestParseRepoSpec(t *testing.T) {
	tests := []struct {
		in                             string
		typ, path, bucket, prefix, end string
	}{
		{"/srv/repo", "fs", "/srv/repo", "", "", ""},
		{"s3:backups", "s3", "", "backups", "", ""},
		{"s3:backups/y360/org", "s3", "", "backups", "y360/org", ""},
		{"s3:https://minio.local:9000/backups/y360", "s3", "", "backups", "y360", "https://minio.local:9000"},
	}
	for _, tt := range tests {
		r, err := parseRepoSpec(tt.in)
		if err != nil || r.Type != tt.typ || r.Path != tt.path || r.S3.Bucket != tt.bucket || r.S3.Prefix != tt.prefix || r.S3.Endpoint != tt.end {
			t.Errorf("%s: %+v %v", tt.in, r, err)
		}
	}
	for _, bad := range []string{"s3:", "s3:https:///x", "s3:https://host"} {
		if _, err := parseRepoSpec(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// Every error kind maps to the code the docs give it.
func TestExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{fmt.Errorf("export %w: 2 item(s) not exported", errPartial), exitFailure},
		{fmt.Errorf("%w: 1 link(s) broken", errDoctor), exitInternal},
		{fmt.Errorf("repository x: %w", backup.ErrNoRepository), exitNoRepo},
		{fmt.Errorf("run: %w", &lease.HeldError{}), exitLocked},
		{fmt.Errorf("ls: %w", backup.ErrNotFound), exitUsage},
		{errors.New("org API down"), exitInternal},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// -r s3:URL/BUCKET/PREFIX reads a repository on S3 with credentials from
// the AWS environment and no config file; a prefix without one exits 10.
func TestCLIReadOnlyS3Repo(t *testing.T) {
	sink, bucket := s3peer.Sink(t, "ux")
	r, err := backup.Init(context.Background(), sink, backup.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	env := []string{"AWS_ACCESS_KEY_ID=" + os.Getenv("Y360_TEST_S3_ACCESS_KEY"), "AWS_SECRET_ACCESS_KEY=" + os.Getenv("Y360_TEST_S3_SECRET_KEY"),
		"AWS_REGION=us-east-1", "Y360BACKUP_CONFIG=" + filepath.Join(t.TempDir(), "absent.yaml")}
	base := "s3:" + os.Getenv("Y360_TEST_S3_ENDPOINT") + "/" + bucket
	if out, errs, code := runCLIEnv(t, env, "-r", base+"/repo", "snapshots"); code != 0 || !strings.Contains(out, "TIME") {
		t.Errorf("snapshots on S3: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := runCLIEnv(t, env, "-r", base+"/elsewhere", "snapshots"); code != exitNoRepo {
		t.Errorf("no repository on S3: exit %d\n%s", code, errs)
	}
}
