package config

import (
	"errors"
	"strings"
	"testing"
)

// A file with comments and blank lines: every problem is reported, each at
// the file's own line and against the right key (the decoder used to see a
// re-marshalled copy, and one type error hid everything else).
func TestProblemsAtTheirOwnLines(t *testing.T) {
	file := strings.Join([]string{
		"# y360backup configuration",            // 1
		"#",                                     // 2
		"",                                      // 3
		"organization:",                         // 4
		"  # the numeric id",                    // 5
		`  id: "123"`,                           // 6
		"",                                      // 7
		"  admin_token: t   # inline comment",   // 8
		"  client_id: c",                        // 9
		"  client_secret: s",                    // 10
		"",                                      // 11
		"# comments shift a re-marshalled copy", // 12
		"sources:",                              // 13
		"  mail:",                               // 14
		"    securty: tls  # typo",              // 15
		"",                                      // 16
		"concurrency: lots",                     // 17
		"api:",                                  // 18
		"  rps: fast",                           // 19
		"repository:",                           // 20
		"  path: /tmp/r",                        // 21
		"log:",                                  // 22
		"  level: loud",                         // 23
		"users:",                                // 24
		"  include: ['a@x', {x: 1}]",            // 25
	}, "\n") + "\n"
	_, err := Parse("c.yaml", []byte(file), env(nil))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	want := []string{
		"line 15: sources.mail.securty: unknown key",
		"line 17: concurrency: cannot unmarshal",
		"line 19: api.rps: cannot unmarshal",
		"line 23: log.level: \"loud\"",
		"line 25: users.include",
	}
	got := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		got[i] = p.String()
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d: want prefix %q\n all:\n%s", i, w, strings.Join(got, "\n"))
		}
	}
}

// A value that did not decode is not reported a second time as missing.
func TestTypeErrorNotAlsoRequired(t *testing.T) {
	_, err := Parse("c.yaml", []byte("organization:\n  id: [1, 2]\n  admin_token: t\n  client_id: c\n  client_secret: s\nrepository: {path: /r}\n"), env(nil))
	if err == nil || strings.Count(err.Error(), "organization.id") != 1 || !strings.Contains(err.Error(), "line 2: organization.id") {
		t.Errorf("got %v", err)
	}
}

// Read-only commands need no organization credentials; every other problem
// still counts, and a missing file is a config problem naming what to do.
func TestParseForReading(t *testing.T) {
	c, err := ParseForReading("c.yaml", []byte("organization:\n  admin_token: ${UNSET}\nrepository: {path: /srv/repo}\n"), env(nil))
	if err != nil || c.Repository.Path != "/srv/repo" || c.Repository.Type != "fs" {
		t.Fatalf("%v %+v", err, c)
	}
	if _, err := ParseForReading("c.yaml", []byte("repository: {path: /r, tpye: fs}\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "line 1: repository.tpye: unknown key") {
		t.Errorf("unknown key under repository: %v", err)
	}
	_, err = Load(t.TempDir() + "/none.yaml")
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "Y360BACKUP_CONFIG") {
		t.Errorf("missing file: %v", err)
	}
}
