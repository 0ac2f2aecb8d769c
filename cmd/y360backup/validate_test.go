package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// Issue 16.7: config check passes only what a run accepts.
func TestConfigCheckRunsRunValidation(t *testing.T) {
	dir := t.TempDir()
	base := "organization: {id: '1', admin_token: t, client_id: c, client_secret: s}\n"
	fsRepo := "repository: {path: " + dir + "}\n"
	s3 := func(extra string) string {
		return "repository: {type: s3, s3: {bucket: " + extra + ", endpoint: 'http://127.0.0.1:9', access_key: a, secret_key: k}}\n"
	}
	for _, c := range []struct {
		name, yaml string
		want       string // "" = OK
	}{
		{"ok", base + fsRepo, ""},
		{"append_pipeline", base + fsRepo + "sources: {mail: {append_pipeline: 1000}}\n", "append_pipeline 1000"},
		{"ca_file", base + fsRepo + "sources: {mail: {ca_file: " + dir + "/missing.pem}}\n", "sources.mail.ca_file"},
		{"bucket", base + s3("b"), `bucket "b"`},
		{"part_size", base + strings.Replace(s3("bucket-ok"), "secret_key: k", "secret_key: k, part_size_mb: 1", 1), "part_size"},
		{"s3 ok", base + s3("bucket-ok"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(f, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := newConfigCommand(&globalOptions{configFile: f})
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs([]string{"check"})
			err := cmd.Execute()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("config check: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != exitUsage):
				t.Fatalf("config check: %v (output %q), want a config error naming %q", err, out.String(), c.want)
			}
		})
	}
}

// Issue 16.7: flags that would select nothing or do nothing are refused.
func TestSelectionAndSampleFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		f    selectionFlags
		bad  bool
	}{
		{"none", selectionFlags{}, false},
		{"sources", selectionFlags{sources: []string{"mail", "disk", "calendar"}}, false},
		{"mails", selectionFlags{sources: []string{"mails"}}, true},
		{"since before until", selectionFlags{since: "2024-01-01", until: "2024-02-01"}, false},
		{"since after until", selectionFlags{since: "2024-03-01", until: "2024-02-01"}, true},
		{"since equals until", selectionFlags{since: "2024-02-01", until: "2024-02-01"}, true},
	} {
		_, err := c.f.selection()
		if (err != nil) != c.bad || (err != nil && !errors.Is(err, errUsage)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	for _, f := range []float64{2, math.NaN(), 0, -0.5, math.Inf(1)} {
		if err := checkSample(f); err == nil || !errors.Is(err, errUsage) {
			t.Errorf("--sample %v: %v", f, err)
		}
	}
	for _, f := range []float64{1, 0.1, 1e-9} {
		if err := checkSample(f); err != nil {
			t.Errorf("--sample %v: %v", f, err)
		}
	}
}

type abortRecorder struct {
	sinks.Sink
	cutoff time.Time
}

func (a *abortRecorder) AbortStale(_ context.Context, cutoff time.Time) (int, error) {
	a.cutoff = cutoff
	return 0, nil
}

// Issue 16.6: opening a repository aborts S3 uploads older than a day, and
// only those.
func TestAbortStaleUploadsCutoff(t *testing.T) {
	a := &abortRecorder{}
	abortStaleUploads(context.Background(), a)
	if d := time.Since(a.cutoff); d < staleUploadAge || d > staleUploadAge+time.Minute {
		t.Errorf("AbortStale cutoff %v ago, want a day", d)
	}
}
