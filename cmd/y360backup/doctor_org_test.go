package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources/y360"
)

func TestCheckOrgScopes(t *testing.T) {
	all := orgScopes(&config.Config{})
	tests := []struct {
		name    string
		enabled bool
		scopes  []string
		err     error
		want    string
	}{
		{"off", false, nil, nil, ""},
		{"whoami failed", true, nil, errors.New("x"), ""},
		{"all there", true, all, nil, "✓ organization source"},
		{"service apps missing", true, all[:len(all)-1], nil, "✗ organization source: the admin token lacks ya360_security:service_applications_read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := &config.Config{}
			cfg.Sources.Org.Enabled = tc.enabled
			checkOrgScopes(&printer{out: &buf}, cfg, y360.Identity{Scopes: tc.scopes}, tc.err)
			if tc.want == "" && buf.Len() != 0 || !strings.Contains(buf.String(), tc.want) {
				t.Errorf("got %q, want %q", buf.String(), tc.want)
			}
		})
	}
}
