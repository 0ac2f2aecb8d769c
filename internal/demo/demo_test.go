package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo is the README's first command: it must run clean, and its
// incremental and no-change runs must do what the text says.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	err := Run(context.Background(), Options{Dir: dir, Out: &out, Small: testing.Short()})
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"Backup 1: full", "y360backup -r " + shellQuote(dir) + " snapshots", "Backup 3: nothing changed", "match the servers byte for byte", "all intact",
		"back, byte for byte: the recurring event", "back, byte for byte: Disk file",
		"personal contacts, in address book \"restored-", " contacts 3 new/"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	third := s[strings.Index(s, "Backup 3"):strings.Index(s, "== Restore check")]
	if !strings.Contains(third, "written: 0 new objects") || !strings.Contains(third, "0 index segments") {
		t.Errorf("no-change run wrote data:\n%s", third)
	}
	if strings.Contains(s, "FAILED") || strings.Contains(s, "MISMATCH") {
		t.Error("demo reported failures")
	}
}

// A second demo into the same folder is refused before it starts: it
// would continue the first one's repository and "Backup 1: full" would
// be incremental.
func TestDemoRefusesUsedFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "repo.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Run(context.Background(), Options{Dir: dir, Out: &out, Small: true})
	if !errors.Is(err, ErrDirNotEmpty) || out.Len() != 0 {
		t.Errorf("err %v, output %q", err, out.String())
	}
}
