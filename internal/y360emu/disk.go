package y360emu

// Disk REST API (docs/yandex-api.md §3), split over the disk*.go files:
//
//	disk.go          state, per-user keying, the two content listeners
//	disk_tree.go     one user's file tree and trash (paths, mkdir, move, delete)
//	disk_content.go  file bodies: stored bytes or lazily generated streams, cached sums
//	disk_wire.go     resource JSON, the "fields" filter, sort, mime/media types
//	disk_api.go      the /v1/disk endpoints on the API host
//	disk_transfer.go the download host (signed hrefs, Range, faults)
//	disk_upload.go   the upload host, asynchronous uploads, quotas, custom properties
//	disk_faults.go   Disk fault switches and byte counters
//	disk_seed.go     seed helpers for tests and the demo
//
// Like the real service the bytes are not served by the API host: download
// and upload hrefs point at two separate listeners (see diskHosts), each
// behind the shared middleware, so request counting and AddFault work there
// too (path prefixes "/disk/" and "/upload-target/").

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Defaults of the Disk emulation; each can be changed at runtime.
const (
	// DefaultDiskHrefLifetime is how long a download href stays valid. The real
	// lifetime is undocumented ("limited"); an hour keeps normal runs simple
	// while SetDiskHrefLifetime lets tests expire links.
	DefaultDiskHrefLifetime = time.Hour
	// DefaultDiskMaxUpload caps one PUT to an upload href; bodies are kept in RAM.
	DefaultDiskMaxUpload = 64 << 20
	// diskTotalSpace is what GET /v1/disk reports as total_space (at least used_space).
	diskTotalSpace = 1 << 40
)

// Disk scopes (the cloud_api:disk.* family of the OAuth app).
const (
	scopeDiskRead  = "cloud_api:disk.read"
	scopeDiskWrite = "cloud_api:disk.write"
	scopeDiskInfo  = "cloud_api:disk.info"
)

// diskState is everything the Disk emulation keeps on the Server (via
// s.extension). One mutex guards the trees, operations and switches; bytes
// are streamed outside it (contents are immutable once created).
type diskState struct {
	mu           sync.Mutex
	users        map[string]*userDisk // by diskKey
	ops          map[string]*diskOp   // by operation id
	hrefLife     time.Duration
	requireToken bool // the download host also wants the owner's OAuth token
	maxUpload    int64
	faults       diskFaults
	served       map[string]*diskServed // by key+"\x00"+path
	quota        map[string]int64       // total_space by diskKey (absent = diskTotalSpace)
	spoolDir     string                 // uploads go to files here ("" = RAM)
	asyncPolls   int                    // uploads answer 202 and finish after this many polls
	uploads      map[string]int         // stored uploads by key+"\x00"+path

	lnMu sync.Mutex
	dl   *httptest.Server // download host
	ul   *httptest.Server // upload host
}

func newDiskState() *diskState {
	return &diskState{
		users:     make(map[string]*userDisk),
		ops:       make(map[string]*diskOp),
		hrefLife:  DefaultDiskHrefLifetime,
		maxUpload: DefaultDiskMaxUpload,
		faults:    newDiskFaults(),
		served:    make(map[string]*diskServed),
		quota:     make(map[string]int64),
		uploads:   make(map[string]int),
	}
}

// diskOp is one asynchronous operation (GET /v1/disk/operations/{id}).
type diskOp struct {
	status string // "in-progress", "success", "failed"
	// Upload operations: where the PUT body goes.
	key, path string
	overwrite bool
	expires   time.Time
	// An asynchronous upload (SetDiskUploadAsync): the body received, not
	// yet on the Disk, and the polls left until it is.
	pending *diskContent
	polls   int
}

// disk returns the Disk state, creating it on first use.
func (s *Server) disk() *diskState {
	return s.extension("disk", func() any { return newDiskState() }).(*diskState)
}

// diskKey maps a token subject or a seed helper's argument (uid or email) to
// the key of that user's disk: the uid of a known user, else the lower-case
// email, so a token minted for an unknown email sees the disk seeded under it.
func (s *Server) diskKey(idOrEmail string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookupLocked(idOrEmail); u != nil {
		return u.ID
	}
	return lower(idOrEmail)
}

// userDiskLocked returns (creating) the disk of key; ds.mu must be held.
func (ds *diskState) userDiskLocked(key string, now time.Time) *userDisk {
	ud, ok := ds.users[key]
	if !ok {
		ud = newUserDisk(key, now)
		ds.users[key] = ud
	}
	return ud
}

// registerDisk is picked up by routes() (see routes.go).
func (s *Server) registerDisk() {
	s.setErrorStyle(diskDownloadPrefix, styleDisk)
	s.setErrorStyle(diskUploadPrefix, styleDisk)
	s.registerDiskAPI()
}

// diskHosts returns the base URLs of the download and upload hosts, starting
// both loopback listeners on first use.
func (s *Server) diskHosts() (download, upload string) {
	ds := s.disk()
	ds.lnMu.Lock()
	defer ds.lnMu.Unlock()
	if ds.dl == nil {
		ds.dl = httptest.NewServer(s.middleware(http.HandlerFunc(s.serveDiskDownload)))
		ds.ul = httptest.NewServer(s.middleware(http.HandlerFunc(s.serveDiskUpload)))
	}
	return ds.dl.URL, ds.ul.URL
}

// DiskDownloadURL returns the base URL of the download host (starting it).
func (s *Server) DiskDownloadURL() string { d, _ := s.diskHosts(); return d }

// DiskUploadURL returns the base URL of the upload host (starting it).
func (s *Server) DiskUploadURL() string { _, u := s.diskHosts(); return u }

// CloseDisk stops the download and upload hosts; Server.Close does not know
// about them. Safe to call more than once; they restart on the next href.
func (s *Server) CloseDisk() {
	ds := s.disk()
	ds.lnMu.Lock()
	defer ds.lnMu.Unlock()
	if ds.dl != nil {
		ds.dl.Close()
		ds.ul.Close()
		ds.dl, ds.ul = nil, nil
	}
}

// SetDiskHrefLifetime changes how long download hrefs issued from now on
// stay valid (d <= 0 restores DefaultDiskHrefLifetime). Expiry is judged by
// the emulator clock, so a FakeClock can expire them.
func (s *Server) SetDiskHrefLifetime(d time.Duration) {
	if d <= 0 {
		d = DefaultDiskHrefLifetime
	}
	ds := s.disk()
	ds.mu.Lock()
	ds.hrefLife = d
	ds.mu.Unlock()
}

// SetDiskDownloadRequiresToken makes the download host demand, besides a
// valid signed href, the owner's "Authorization: OAuth" token (the docs say
// to send it; whether the real host insists is unconfirmed).
func (s *Server) SetDiskDownloadRequiresToken(on bool) {
	ds := s.disk()
	ds.mu.Lock()
	ds.requireToken = on
	ds.mu.Unlock()
}

// SetDiskMaxUpload caps the body of one upload PUT (n <= 0 restores the default).
func (s *Server) SetDiskMaxUpload(n int64) {
	if n <= 0 {
		n = DefaultDiskMaxUpload
	}
	ds := s.disk()
	ds.mu.Lock()
	ds.maxUpload = n
	ds.mu.Unlock()
}
