package y360emu

import (
	"net/http"
	"strings"
)

// Token exchange (docs/yandex-api.md §2). The error codes Yandex uses for an
// unknown or blocked user and for an app outside the org's list are not
// documented; the emulator picks standard OAuth codes with plain-English
// descriptions, and the client classifies by both.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	subjectUID         = "urn:yandex:params:oauth:token-type:uid"
	subjectEmail       = "urn:yandex:params:oauth:token-type:email"
	issuedAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
)

// Descriptions the emulator answers with (tests and the client's classifier rely on their words).
const (
	DescBadClient       = "Client not found or wrong client secret"
	DescFeatureInactive = "Service applications feature is not active for the organization"
	DescNotServiceApp   = "Client is not a service application of the organization"
	DescUserNotFound    = "User not found"
	DescUserBlocked     = "User is blocked"
	DescScope           = "Requested scope is not granted to the service application"
)

func (s *Server) registerOAuth() {
	s.handle("POST /token", s.handleToken)
	s.handle("POST /introspect", s.handleIntrospect)
	s.handle("GET /introspect", s.handleIntrospect)
}

// handleToken implements POST /token with grant_type token-exchange.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed form body")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != grantTokenExchange {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only token exchange is emulated")
		return
	}
	if f.Get("client_id") != s.opts.ClientID || f.Get("client_secret") != s.opts.ClientSecret {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", DescBadClient)
		return
	}

	s.mu.Lock()
	active, uidRefused := s.active, s.uidRefused
	var appScopes []string
	listed := false
	for _, a := range s.apps {
		if a.ID == s.opts.ClientID {
			listed, appScopes = true, append([]string{}, a.Scopes...)
		}
	}
	var u *User
	subject, kind := f.Get("subject_token"), f.Get("subject_token_type")
	switch kind {
	case subjectUID:
		if !uidRefused {
			u = s.byID[subject]
		}
	case subjectEmail:
		u = s.byEmail[lower(subject)]
	default:
		s.mu.Unlock()
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Unsupported subject_token_type")
		return
	}
	var user User
	if u != nil {
		user = *u
	}
	s.mu.Unlock()

	switch {
	case !active:
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", DescFeatureInactive)
		return
	case !listed:
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", DescNotServiceApp)
		return
	case u == nil:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", DescUserNotFound)
		return
	case user.Blocked:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", DescUserBlocked)
		return
	}

	scopes := appScopes
	if req := strings.Fields(f.Get("scope")); len(req) > 0 {
		if !subset(req, appScopes) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", DescScope)
			return
		}
		scopes = req
	}
	if user.Scopes != nil {
		scopes = intersect(scopes, user.Scopes)
	}
	tok, c := s.mint(user.ID, user.Email, scopes)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":      tok,
		"expires_in":        (c.Expires - c.Issued) / 1000,
		"issued_token_type": issuedAccessToken,
		"scope":             strings.Join(scopes, " "),
		"token_type":        "bearer",
	})
}

// handleIntrospect answers Dovecot's oauth2 passdb (and Radicale's plugin):
// the token comes as form field token=, as ?token= or as "Authorization:
// Bearer". Valid → 200 {"active":true,"username":email,...}; else 401 {"active":false}.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	tok := ""
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok &&
		(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "OAuth")) {
		tok = strings.TrimSpace(t)
	}
	if tok == "" {
		_ = r.ParseForm() // merges ?token= and the form body
		tok = r.Form.Get("token")
	}
	c, err := s.Verify(tok)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active":     true,
		"username":   c.Email,
		"email":      c.Email,
		"uid":        c.Subject,
		"scope":      strings.Join(c.Scopes, " "),
		"token_type": "Bearer",
		"exp":        c.Expires / 1000,
	})
}

func subset(a, of []string) bool {
	for _, x := range a {
		if !contains(of, x) {
			return false
		}
	}
	return true
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func contains(list []string, x string) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}
