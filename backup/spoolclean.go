package backup

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleSpoolAge is how old a pack spool file must be to be taken for a
// killed run's leftover (issue 16.6: 50 files, 189 MB, stayed forever). A
// spool file lives from its first byte to the end of its pack's upload:
// minutes, never a day, so another process sharing the spool directory
// cannot lose a file it still uses.
const staleSpoolAge = 24 * time.Hour

// cleanSpool removes the pack and body spool files (y360pack-*, y360body-*;
// regular files only) in dir last modified before now - staleSpoolAge. It is
// best effort: a file it cannot remove stays for the next time.
func cleanSpool(dir string, now time.Time) (files int, bytes int64) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		spool := strings.HasPrefix(e.Name(), "y360pack-") || strings.HasPrefix(e.Name(), "y360body-")
		if !spool || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(now.Add(-staleSpoolAge)) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			files++
			bytes += fi.Size()
		}
	}
	return files, bytes
}
