package y360emu

import "net/http"

// routes registers every endpoint group on s.mux.
//
// Endpoint groups that live in files owned by someone else are picked up by
// method name, so adding them needs no edit here: define on *Server, in the
// new file, one of the optional registrars below. Inside, register with
// s.handle, keep state via s.extension, and set the error body style of any
// extra path prefix with s.setErrorStyle (paths under /v1/disk already get
// the Disk style).
func (s *Server) routes() {
	s.registerOAuth()
	s.registerDirectory()
	s.registerServiceApps()
	s.registerWhoami()
	s.handle("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})

	// Optional groups (Disk REST: disk*.go).
	if g, ok := any(s).(interface{ registerDisk() }); ok {
		g.registerDisk()
	}
	// Organization objects (orgapi.go).
	if g, ok := any(s).(interface{ registerOrg() }); ok {
		g.registerOrg()
	}
	// CardDAV (contacts*.go).
	if g, ok := any(s).(interface{ registerContacts() }); ok {
		g.registerContacts()
	}
}
