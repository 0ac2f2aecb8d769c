package y360emu

import "net/http"

// adminScopes are the scopes /whoami reports for the admin/owner token.
func adminScopes() []string {
	return []string{
		"directory:read_users", "directory:read_organization",
		"directory:read_departments", "directory:read_groups", "directory:read_domains",
		"ya360_admin:mail_read_routing_rules", "ya360_admin:mail_read_user_settings",
		"ya360_admin:mail_read_shared_mailbox_inventory",
		"ya360_security:service_applications_read", "ya360_security:service_applications_write",
	}
}

func (s *Server) registerWhoami() {
	s.handle("GET /whoami", s.handleWhoami)
}

// handleWhoami implements the undocumented GET /whoami: login, scopes and
// orgIds of the calling token (admin token or a minted user token).
func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	tok := oauthToken(r)
	if tok == "" {
		writeAPI360Error(w, http.StatusUnauthorized, grpcUnauthenticated, "Unauthenticated")
		return
	}
	if tok == s.opts.AdminToken || (s.opts.OwnerToken != "" && tok == s.opts.OwnerToken) {
		writeJSON(w, http.StatusOK, map[string]any{
			"login": s.opts.AdminLogin, "scopes": adminScopes(), "orgIds": []string{s.opts.OrgID},
		})
		return
	}
	c, err := s.Verify(tok)
	if err != nil {
		writeAPI360Error(w, http.StatusUnauthorized, grpcUnauthenticated, "Unauthenticated")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"login": c.Email, "scopes": c.Scopes, "orgIds": []string{s.opts.OrgID},
	})
}
