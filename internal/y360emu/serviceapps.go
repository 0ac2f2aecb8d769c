package y360emu

import (
	"encoding/json"
	"io"
	"net/http"
)

// Service applications management (owner only), docs/yandex-api.md §2.
const (
	maxServiceApps     = 20
	msgFeatureInactive = "feature is not active"
)

func (s *Server) registerServiceApps() {
	const base = "/security/v1/org/{orgId}/service_applications"
	s.handle("GET "+base, s.handleListApps)
	s.handle("POST "+base, s.handleSetApps)
	s.handle("DELETE "+base, s.handleClearApps)
	s.handle("POST "+base+"/activate", s.handleActivate(true))
	s.handle("POST "+base+"/deactivate", s.handleActivate(false))
}

// ownerOrg runs the owner check and the org id check.
func (s *Server) ownerOrg(w http.ResponseWriter, r *http.Request) bool {
	if !s.ownerAuth(w, r) {
		return false
	}
	if r.PathValue("orgId") != s.opts.OrgID {
		writeAPI360Error(w, http.StatusForbidden, grpcPermissionDenied, "Not an owner")
		return false
	}
	return true
}

func (s *Server) handleListApps(w http.ResponseWriter, r *http.Request) {
	if !s.ownerOrg(w, r) {
		return
	}
	s.mu.Lock()
	active, apps := s.active, cloneApps(s.apps)
	s.mu.Unlock()
	if !active {
		writeAPI360Error(w, http.StatusBadRequest, grpcFailedPrecondition, msgFeatureInactive)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"applications": apps})
}

// handleSetApps replaces the whole list with the body's applications.
func (s *Server) handleSetApps(w http.ResponseWriter, r *http.Request) {
	if !s.ownerOrg(w, r) {
		return
	}
	var body struct {
		Applications []ServiceApp `json:"applications"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeAPI360Error(w, http.StatusBadRequest, grpcInvalidArgument, "invalid JSON body")
		return
	}
	if len(body.Applications) > maxServiceApps {
		writeAPI360Error(w, http.StatusBadRequest, grpcInvalidArgument, "too many service applications (max 20)")
		return
	}
	for _, a := range body.Applications {
		if a.ID == "" {
			writeAPI360Error(w, http.StatusBadRequest, grpcInvalidArgument, "application id is required")
			return
		}
	}
	s.mu.Lock()
	if !s.active {
		s.mu.Unlock()
		writeAPI360Error(w, http.StatusBadRequest, grpcFailedPrecondition, msgFeatureInactive)
		return
	}
	s.apps = cloneApps(body.Applications)
	apps := cloneApps(s.apps)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"applications": apps})
}

// handleClearApps empties the list; allowed even when the feature is off.
func (s *Server) handleClearApps(w http.ResponseWriter, r *http.Request) {
	if !s.ownerOrg(w, r) {
		return
	}
	s.mu.Lock()
	s.apps = nil
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (s *Server) handleActivate(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.ownerOrg(w, r) {
			return
		}
		s.SetFeatureActive(on)
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

// SetFeatureActive switches the org's service-applications feature. While it
// is off, token exchange is refused and minted tokens stop validating.
func (s *Server) SetFeatureActive(on bool) {
	s.mu.Lock()
	s.active = on
	s.mu.Unlock()
}

// SetServiceApps replaces the org's service-application list.
func (s *Server) SetServiceApps(apps []ServiceApp) {
	s.mu.Lock()
	s.apps = cloneApps(apps)
	s.mu.Unlock()
}

// ServiceApps returns a copy of the org's service-application list.
func (s *Server) ServiceApps() []ServiceApp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneApps(s.apps)
}

// SetUIDSubjectRefused switches Options.UIDSubjectRefused at runtime.
func (s *Server) SetUIDSubjectRefused(on bool) {
	s.mu.Lock()
	s.uidRefused = on
	s.mu.Unlock()
}
