package y360emu

import "sync/atomic"

// Disk-specific fault switches. The generic ones (429 with or without
// Retry-After, 5xx, latency, dropped connections before an answer) are the
// core's AddFault/Throttle/FailNext, which also apply to the download host
// (path prefix "/disk/") and the upload host ("/upload-target/").
//
// Paths given to these methods are Disk paths in any accepted form
// ("disk:/a/b", "/a/b"); users are uids or emails, as for the seed helpers.

const (
	diskDownloadPrefix = "/disk/"
	diskUploadPrefix   = "/upload-target/"
)

type diskFaults struct {
	locks   map[string]int // fault key → answers left (-1 = until DiskUnlock)
	drops   map[string]*diskDrop
	corrupt map[string]bool
}

type diskDrop struct {
	after int64 // body bytes sent before the connection is cut
	left  int   // responses still to cut (-1 = every one)
}

func newDiskFaults() diskFaults {
	return diskFaults{locks: map[string]int{}, drops: map[string]*diskDrop{}, corrupt: map[string]bool{}}
}

// diskServed counts what the download host sent for one file.
type diskServed struct {
	bytes     atomic.Int64
	responses atomic.Int64
}

func faultKey(key, p string) string { return key + "\x00" + p }

// diskFaultKey normalizes a user and path given to a switch.
func (s *Server) diskFaultKey(user, p string) (string, error) {
	names, err := parseDiskPath("path", p, "disk")
	if err != nil {
		return "", err
	}
	return faultKey(s.diskKey(user), joinDiskPath(names)), nil
}

// takeLockLocked reports whether a request touching fk must get 423, and
// consumes one answer of a counted lock. ds.mu must be held.
func (ds *diskState) takeLockLocked(fk string) bool {
	n, ok := ds.faults.locks[fk]
	if !ok {
		return false
	}
	if n > 0 {
		if n == 1 {
			delete(ds.faults.locks, fk)
		} else {
			ds.faults.locks[fk] = n - 1
		}
	}
	return true
}

// takeDropLocked returns after how many body bytes this response must be
// cut (-1 = not at all), consuming one counted drop. ds.mu must be held.
func (ds *diskState) takeDropLocked(fk string) int64 {
	d, ok := ds.faults.drops[fk]
	if !ok {
		return -1
	}
	if d.left > 0 {
		d.left--
		if d.left == 0 {
			delete(ds.faults.drops, fk)
		}
	}
	return d.after
}

func (ds *diskState) servedLocked(fk string) *diskServed {
	sv := ds.served[fk]
	if sv == nil {
		sv = &diskServed{}
		ds.served[fk] = sv
	}
	return sv
}

// DiskLock makes the next n requests that touch the file or folder at p
// (metadata, download link, download host, delete, move) answer 423
// DiskResourceLockedError; n <= 0 locks it until DiskUnlock.
func (s *Server) DiskLock(user, p string, n int) error {
	fk, err := s.diskFaultKey(user, p)
	if err != nil {
		return err
	}
	if n <= 0 {
		n = -1
	}
	ds := s.disk()
	ds.mu.Lock()
	ds.faults.locks[fk] = n
	ds.mu.Unlock()
	return nil
}

// DiskUnlock removes a DiskLock.
func (s *Server) DiskUnlock(user, p string) error {
	fk, err := s.diskFaultKey(user, p)
	if err != nil {
		return err
	}
	ds := s.disk()
	ds.mu.Lock()
	delete(ds.faults.locks, fk)
	ds.mu.Unlock()
	return nil
}

// DiskDropDownloads makes the next `times` responses of the download host
// for the file at p send `after` body bytes (with the full Content-Length
// announced) and then cut the connection; times <= 0 = every response until
// DiskDropDownloads(user, p, -1, 0) clears it (after < 0 clears).
func (s *Server) DiskDropDownloads(user, p string, after int64, times int) error {
	fk, err := s.diskFaultKey(user, p)
	if err != nil {
		return err
	}
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if after < 0 {
		delete(ds.faults.drops, fk)
		return nil
	}
	if times <= 0 {
		times = -1
	}
	ds.faults.drops[fk] = &diskDrop{after: after, left: times}
	return nil
}

// DiskCorrupt makes the download host serve the file at p with one byte
// flipped (in the middle) while its metadata still advertises the true md5
// and sha256, until switched off.
func (s *Server) DiskCorrupt(user, p string, on bool) error {
	fk, err := s.diskFaultKey(user, p)
	if err != nil {
		return err
	}
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if on {
		ds.faults.corrupt[fk] = true
	} else {
		delete(ds.faults.corrupt, fk)
	}
	return nil
}

// ClearDiskFaults removes every Disk-specific fault (locks, drops, corruption).
func (s *Server) ClearDiskFaults() {
	ds := s.disk()
	ds.mu.Lock()
	ds.faults = newDiskFaults()
	ds.mu.Unlock()
}

// DiskServed reports the body bytes the download host wrote for the file at
// p and how many responses (200 or 206) it started for it, including cut ones.
func (s *Server) DiskServed(user, p string) (bytes int64, responses int) {
	fk, err := s.diskFaultKey(user, p)
	if err != nil {
		return 0, 0
	}
	ds := s.disk()
	ds.mu.Lock()
	sv := ds.served[fk]
	ds.mu.Unlock()
	if sv == nil {
		return 0, 0
	}
	return sv.bytes.Load(), int(sv.responses.Load())
}

// DiskServedTotal reports the body bytes the download host wrote in all.
func (s *Server) DiskServedTotal() int64 {
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	var t int64
	for _, sv := range ds.served {
		t += sv.bytes.Load()
	}
	return t
}

// ResetDiskServed zeroes the download byte and response counters.
func (s *Server) ResetDiskServed() {
	ds := s.disk()
	ds.mu.Lock()
	ds.served = make(map[string]*diskServed)
	ds.mu.Unlock()
}
