package y360emu

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// errStyle is one of the three error body shapes Yandex services use
// (docs/yandex-api.md): api360's gRPC-gateway body, OAuth's, and Disk REST's.
type errStyle int

const (
	styleAPI360 errStyle = iota // {"code":7,"message":"Not an admin","details":[]}
	styleOAuth                  // {"error":"invalid_client","error_description":"..."}
	styleDisk                   // {"message":"...","description":"...","error":"DiskNotFoundError"}
)

// gRPC codes used in api360 bodies.
const (
	grpcInvalidArgument    = 3
	grpcNotFound           = 5
	grpcPermissionDenied   = 7
	grpcResourceExhausted  = 8
	grpcFailedPrecondition = 9
	grpcInternal           = 13
	grpcUnavailable        = 14
	grpcUnauthenticated    = 16
)

type stylePrefix struct {
	prefix string
	style  errStyle
}

// setErrorStyle makes fault and generic error bodies under prefix use style.
// Built-in: /token → OAuth, /v1/disk → Disk, everything else api360.
func (s *Server) setErrorStyle(prefix string, st errStyle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.styles = append(s.styles, stylePrefix{prefix, st})
	sort.SliceStable(s.styles, func(i, j int) bool { return len(s.styles[i].prefix) > len(s.styles[j].prefix) })
}

func (s *Server) styleFor(path string) errStyle {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.styles {
		if strings.HasPrefix(path, sp.prefix) {
			return sp.style
		}
	}
	switch {
	case path == "/token" || path == "/introspect":
		return styleOAuth
	case strings.HasPrefix(path, "/v1/disk"):
		return styleDisk
	}
	return styleAPI360
}

// writeJSON writes v with status and the headers api360 sends.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeAPI360Error writes {"code":code,"message":msg,"details":[]}.
func writeAPI360Error(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "details": []any{}})
}

// writeOAuthError writes {"error":name,"error_description":desc}.
func writeOAuthError(w http.ResponseWriter, status int, name, desc string) {
	writeJSON(w, status, map[string]string{"error": name, "error_description": desc})
}

// writeDiskError writes {"message":msg,"description":desc,"error":name}.
func writeDiskError(w http.ResponseWriter, status int, name, msg, desc string) {
	writeJSON(w, status, map[string]string{"message": msg, "description": desc, "error": name})
}

// writeStatusError answers status in the style of path, with generic texts;
// used by the fault injector and for unauthenticated requests.
func (s *Server) writeStatusError(w http.ResponseWriter, path string, status int) {
	text := http.StatusText(status)
	switch s.styleFor(path) {
	case styleOAuth:
		name := "server_error"
		switch status {
		case http.StatusTooManyRequests:
			name = "too_many_requests"
		case http.StatusUnauthorized:
			name = "invalid_token"
		case http.StatusServiceUnavailable:
			name = "temporarily_unavailable"
		}
		writeOAuthError(w, status, name, text)
	case styleDisk:
		name := strings.ReplaceAll(text, " ", "")
		if status == http.StatusUnauthorized {
			name = "UnauthorizedError"
		}
		writeDiskError(w, status, name, text, text)
	default:
		code := grpcInternal
		switch {
		case status == http.StatusTooManyRequests:
			code = grpcResourceExhausted
		case status == http.StatusUnauthorized:
			code = grpcUnauthenticated
		case status == http.StatusForbidden:
			code = grpcPermissionDenied
		case status == http.StatusNotFound:
			code = grpcNotFound
		case status == http.StatusServiceUnavailable:
			code = grpcUnavailable
		case status < 500:
			code = grpcInvalidArgument
		}
		writeAPI360Error(w, status, code, text)
	}
}

// bearer returns the token of "Authorization: OAuth <tok>". Like the real
// REST APIs the emulator requires the OAuth scheme; "Bearer" is accepted only
// by /introspect.
func oauthToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "OAuth") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// adminAuth checks an admin-API request: 401 without a token, 403
// "Not an admin" for any token that is not the admin's (or owner's). It
// writes the error itself and reports whether to go on.
func (s *Server) adminAuth(w http.ResponseWriter, r *http.Request) bool {
	tok := oauthToken(r)
	switch {
	case tok == "":
		writeAPI360Error(w, http.StatusUnauthorized, grpcUnauthenticated, "Unauthenticated")
		return false
	case tok == s.opts.AdminToken || (s.opts.OwnerToken != "" && tok == s.opts.OwnerToken):
		return true
	}
	writeAPI360Error(w, http.StatusForbidden, grpcPermissionDenied, "Not an admin")
	return false
}

// ownerAuth is adminAuth for owner-only endpoints ("Not an owner").
func (s *Server) ownerAuth(w http.ResponseWriter, r *http.Request) bool {
	tok := oauthToken(r)
	owner := s.opts.OwnerToken
	if owner == "" {
		owner = s.opts.AdminToken
	}
	switch {
	case tok == "":
		writeAPI360Error(w, http.StatusUnauthorized, grpcUnauthenticated, "Unauthenticated")
		return false
	case tok == owner:
		return true
	}
	writeAPI360Error(w, http.StatusForbidden, grpcPermissionDenied, "Not an owner")
	return false
}

// userAuth validates a per-user token from "Authorization: OAuth <tok>" and,
// if scope is not empty, that it carries scope. On failure it answers 401
// (403 for a missing scope) in the path's error style and returns ok=false.
func (s *Server) userAuth(w http.ResponseWriter, r *http.Request, scope string) (Claims, bool) {
	c, err := s.Verify(oauthToken(r))
	if err != nil {
		s.writeStatusError(w, r.URL.Path, http.StatusUnauthorized)
		return Claims{}, false
	}
	if scope != "" && !c.HasScope(scope) {
		s.writeStatusError(w, r.URL.Path, http.StatusForbidden)
		return Claims{}, false
	}
	return c, true
}
