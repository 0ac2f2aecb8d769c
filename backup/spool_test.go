package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks/mem"
)

// Issue 16.6: pack spool files a killed run left are removed when a
// repository is opened; fresh ones (another process may be using them) and
// anything not ours stay.
func TestOpenCleansStaleSpool(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-25 * time.Hour)
	files := map[string]bool{ // name: must survive
		"y360pack-111": false, "y360pack-222": false,
		"y360pack-fresh": true, "other-file": true,
	}
	for name := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, 1000), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != "y360pack-fresh" {
			os.Chtimes(p, old, old)
		}
	}
	sub := filepath.Join(dir, "y360pack-dir")
	os.Mkdir(sub, 0o700)
	os.Chtimes(sub, old, old)
	files["y360pack-dir"] = true

	r, err := OpenOrInit(context.Background(), mem.New(), RepoOptions{SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for name, survive := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if (err == nil) != survive {
			t.Errorf("%s: exists=%v, want %v", name, err == nil, survive)
		}
	}
}
