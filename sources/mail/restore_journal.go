package mail

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The restore journal remembers which messages restores created in a
// destination folder: the (UIDVALIDITY, UID) pairs the server gave back in
// APPENDUID. It lets a rerun after a kill -9 tell the copies a restore made
// from everything else in the folder (see restore_dedupe.go). One file per
// (user, destination), under Config.RestoreJournalDir, one "validity uid"
// line per message, appended as answers arrive; a process killed between
// the server's answer and the write loses that line, which only means one
// duplicate fewer can be removed (the safe direction). The file is emptied
// when a restore of the folder ends clean.

// maxJournalBytes bounds what is read back (a line is at most 22 bytes:
// ~4.7 million messages); a larger file is ignored, which is safe.
const maxJournalBytes = 100 << 20

type journal struct {
	validity uint32
	uids     map[uint32]bool // created by restores, this validity
	path     string          // "" = in memory only
	// mtime is the file's modification time when it was opened (zero: no
	// file, i.e. no earlier run left anything unsettled).
	mtime   time.Time
	touched time.Time
}

// touchEvery bounds how stale the file's mtime is while APPENDs are sent.
const touchEvery = 100 * time.Millisecond

// touch marks the file "APPENDs being sent now", before each APPEND (at
// most every touchEvery): a rerun waits until the mtime is settleTime old,
// so that what a killed run had sent has been committed before it looks.
func (j *journal) touch() {
	if j == nil || j.path == "" || time.Since(j.touched) < touchEvery {
		return
	}
	j.touched = time.Now()
	if err := os.Chtimes(j.path, j.touched, j.touched); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return
	}
	if f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		_ = f.Close()
	}
}

func journalPath(dir, email, dest string) string {
	if dir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(email) + "\x00" + dest))
	return filepath.Join(dir, hex.EncodeToString(sum[:12])+".uids")
}

// openJournal loads the entries of validity; lines of another validity
// name messages of a folder that no longer exists as it was, and are dropped.
func openJournal(dir, email, dest string, validity uint32) *journal {
	j := &journal{validity: validity, uids: map[uint32]bool{}, path: journalPath(dir, email, dest)}
	if j.path == "" {
		return j
	}
	f, err := os.Open(j.path)
	if err != nil {
		return j
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		j.mtime = fi.ModTime()
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxJournalBytes))
	for sc.Scan() {
		v, u, ok := strings.Cut(sc.Text(), " ")
		vn, err1 := strconv.ParseUint(v, 10, 32)
		un, err2 := strconv.ParseUint(u, 10, 32)
		if ok && err1 == nil && err2 == nil && uint32(vn) == validity && un > 0 {
			j.uids[uint32(un)] = true
		}
	}
	return j
}

// add records uids as created by this restore. A write error is returned
// for the caller to ignore: the journal only ever widens what may be removed.
func (j *journal) add(validity uint32, uids []uint32) error {
	if validity != j.validity || len(uids) == 0 {
		return nil
	}
	var b strings.Builder
	for _, u := range uids {
		j.uids[u] = true
		fmt.Fprintf(&b, "%d %d\n", validity, u)
	}
	if j.path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// clear forgets everything: the folder was found holding each item once.
func (j *journal) clear() {
	clear(j.uids)
	j.mtime, j.touched = time.Time{}, time.Time{}
	if j.path != "" {
		_ = os.Remove(j.path)
	}
}

// parseAppendUID reads "APPENDUID <validity> <uid-set>" (RFC 4315); a
// single APPEND gets a single UID, but a set is accepted.
func parseAppendUID(code string) (uint32, []uint32, bool) {
	f := strings.Fields(code)
	if len(f) != 3 || !strings.EqualFold(f[0], "APPENDUID") {
		return 0, nil, false
	}
	v, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil || v == 0 {
		return 0, nil, false
	}
	var uids []uint32
	for _, part := range strings.Split(f[2], ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || a == 0 || b < a || b-a > 10000 {
			return 0, nil, false
		}
		for u := a; u <= b; u++ {
			uids = append(uids, uint32(u))
		}
	}
	return uint32(v), uids, true
}
