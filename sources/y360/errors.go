package y360

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360/api"
)

// gRPC status codes that api360 puts in the "code" field of its error bodies.
const (
	codeNotFound         = 5
	codePermissionDenied = 7
	codeResourceExhaust  = 8
	codeUnauthenticated  = 16
)

// maxErrorBody bounds how much of an error response is read and kept.
const maxErrorBody = 64 << 10

// APIError is a non-2xx answer from a Yandex endpoint, decoded from whichever
// of the three body styles it used (see api.ErrorBody). Its Error text is meant
// for an administrator; it never contains tokens, secrets or query strings.
type APIError struct {
	Method string // HTTP method of the failed request
	Path   string // URL host+path of the failed request, without the query

	Status      int           // HTTP status code
	Code        int           // gRPC code from api360 bodies (7 = permission denied); 0 if absent
	Name        string        // Disk "error" name or OAuth "error" code ("DiskNotFoundError", "invalid_client")
	Message     string        // api360/Disk "message"
	Description string        // Disk "description" or OAuth "error_description"
	RetryAfter  time.Duration // parsed Retry-After header, 0 if absent

	// Hint says what an administrator should check; set for token-exchange
	// failures whose cause is known (bad client secret, app not registered...).
	Hint string
}

// Error renders "y360: METHOD host/path: 403 Forbidden: Not an admin (code 7)"
// followed by the hint, if any.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("y360: ")
	if e.Method != "" || e.Path != "" {
		fmt.Fprintf(&b, "%s %s: ", e.Method, e.Path)
	}
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	var parts []string
	if e.Name != "" {
		parts = append(parts, e.Name)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Description != "" && e.Description != e.Message {
		parts = append(parts, e.Description)
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ": "))
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Hint != "" {
		b.WriteString(" — ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is lets errors.Is match the shared source sentinels, so engine code can
// classify without importing this package.
func (e *APIError) Is(target error) bool {
	switch target {
	case sources.ErrNotFound:
		return e.notFound()
	case sources.ErrUnauthorized:
		return e.unauthorized()
	case sources.ErrOrgCredentials:
		switch classifyExchange(e) {
		case causeBadClient, causeFeatureInactive, causeNotServiceApp:
			return e.Hint != "" // only token-exchange errors carry a hint
		}
	}
	return false
}

func (e *APIError) notFound() bool {
	return e.Status == http.StatusNotFound || e.Code == codeNotFound
}

func (e *APIError) unauthorized() bool {
	return e.Status == http.StatusUnauthorized || e.Code == codeUnauthenticated
}

func (e *APIError) rateLimited() bool {
	return e.Status == http.StatusTooManyRequests || e.Code == codeResourceExhaust ||
		e.Name == "TooManyRequests" || e.Name == "DiskResourceDownloadLimitExceededError"
}

// retryable reports whether repeating the identical request later may succeed.
func (e *APIError) retryable() bool {
	if e.rateLimited() {
		return true
	}
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout, 509:
		return true
	}
	return false
}

// IsRateLimited reports whether err is (or wraps) a 429 / rate-limit answer.
func IsRateLimited(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.rateLimited()
}

// IsNotFound reports whether err is (or wraps) a 404 / NOT_FOUND answer.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.notFound()
}

// IsUnauthorized reports whether err is (or wraps) a 401 answer: the token was
// refused (expired, revoked, user blocked). Invalidate it and retry once.
func IsUnauthorized(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.unauthorized()
}

// IsPermanent reports whether err is (or wraps) an API answer that repeating
// the same request will not change: 4xx other than 408, 423 and 429, and
// 501/505/507. A 401 counts as permanent for the same token; re-minting a
// token (TokenSource.Invalidate) is the caller's separate decision.
// Network errors and 5xx are not permanent.
func IsPermanent(err error) bool {
	var e *APIError
	if !errors.As(err, &e) || e.retryable() {
		return false
	}
	switch {
	case e.Status == http.StatusLocked:
		return false
	case e.Status >= 400 && e.Status < 500:
		return true
	case e.Status == http.StatusNotImplemented, e.Status == http.StatusHTTPVersionNotSupported,
		e.Status == http.StatusInsufficientStorage:
		return true
	}
	return false
}

// ParseError builds an *APIError from a non-2xx response. It reads at most
// 64 KiB of the body and does not close it. Exported so other packages that
// reach Yandex through Doer can decode bodies the same way.
func ParseError(resp *http.Response) *APIError {
	e := &APIError{Status: resp.StatusCode}
	if resp.Request != nil && resp.Request.URL != nil {
		e.Method = resp.Request.Method
		e.Path = resp.Request.URL.Host + resp.Request.URL.EscapedPath()
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.Body == nil {
		return e
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body api.ErrorBody
	if err := json.Unmarshal(raw, &body); err != nil {
		// Not JSON (a proxy's HTML page): keep a short, single-line excerpt.
		e.Message = excerpt(string(raw))
		return e
	}
	if body.Code != nil {
		e.Code = *body.Code
	}
	e.Name = body.Error
	e.Message = body.Message
	e.Description = body.Description
	if body.ErrorDescription != "" {
		e.Description = body.ErrorDescription
	}
	return e
}

// excerpt shortens a non-JSON body to one line of at most 200 bytes.
func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
