//go:build unix

package journald

import (
	"fmt"
	"os"
	"syscall"
)

// IsJournal reports whether f is the journal stream systemd connected it to:
// $JOURNAL_STREAM ("device:inode") names the same file as f. A child whose
// stderr was redirected elsewhere inherits the variable but fails the
// comparison, as systemd.exec(5) recommends.
func IsJournal(f *os.File, journalStream string) bool {
	if journalStream == "" || f == nil {
		return false
	}
	var dev, ino uint64
	if _, err := fmt.Sscanf(journalStream, "%d:%d", &dev, &ino); err != nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino //nolint:unconvert // Dev is uint32 on some platforms
}
