package y360_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

func response(status int, body string, hdr ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	u, _ := url.Parse("https://api360.yandex.net/directory/v1/org/1/users?page=2&secret=x")
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)),
		Request: &http.Request{Method: "GET", URL: u}}
}

func TestParseErrorBodies(t *testing.T) {
	cases := []struct {
		name string
		resp *http.Response
		want y360.APIError
		text string
	}{
		{"api360", response(403, `{"code":7,"message":"Not an admin","details":[]}`),
			y360.APIError{Status: 403, Code: 7, Message: "Not an admin"},
			"y360: GET api360.yandex.net/directory/v1/org/1/users: 403 Forbidden: Not an admin (code 7)"},
		{"oauth", response(400, `{"error":"invalid_client","error_description":"Client not found"}`),
			y360.APIError{Status: 400, Name: "invalid_client", Description: "Client not found"},
			"400 Bad Request: invalid_client: Client not found"},
		{"disk", response(404, `{"message":"Не удалось найти запрошенный ресурс.","description":"Resource not found.","error":"DiskNotFoundError"}`),
			y360.APIError{Status: 404, Name: "DiskNotFoundError", Message: "Не удалось найти запрошенный ресурс.", Description: "Resource not found."},
			"404 Not Found: DiskNotFoundError: Не удалось найти запрошенный ресурс.: Resource not found."},
		{"retry-after seconds", response(429, `{"code":8,"message":"Too Many Requests"}`, "Retry-After", "7"),
			y360.APIError{Status: 429, Code: 8, Message: "Too Many Requests", RetryAfter: 7 * time.Second},
			"429 Too Many Requests: Too Many Requests (code 8)"},
		{"html", response(502, "<html>\n<body>Bad   gateway</body></html>"),
			y360.APIError{Status: 502, Message: "<html> <body>Bad gateway</body></html>"},
			"502 Bad Gateway: <html> <body>Bad gateway</body></html>"},
		{"empty", response(503, ""), y360.APIError{Status: 503}, "503 Service Unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := y360.ParseError(tc.resp)
			tc.want.Method, tc.want.Path = "GET", "api360.yandex.net/directory/v1/org/1/users"
			if *e != tc.want {
				t.Errorf("got %+v\nwant %+v", *e, tc.want)
			}
			if !strings.HasSuffix(e.Error(), tc.text) {
				t.Errorf("text %q\nwant suffix %q", e.Error(), tc.text)
			}
			if strings.Contains(e.Error(), "secret") || strings.Contains(e.Error(), "page=") {
				t.Errorf("query string in error: %s", e)
			}
		})
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	when := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	e := y360.ParseError(response(503, "", "Retry-After", when))
	if e.RetryAfter < 80*time.Second || e.RetryAfter > 91*time.Second {
		t.Errorf("RetryAfter %v from date %s", e.RetryAfter, when)
	}
	for _, bad := range []string{"soon", "-3", "NaN", "Inf"} {
		if e := y360.ParseError(response(503, "", "Retry-After", bad)); e.RetryAfter != 0 {
			t.Errorf("Retry-After %q → %v", bad, e.RetryAfter)
		}
	}
}

func TestPredicates(t *testing.T) {
	cases := []struct {
		err                                  error
		rate, notFound, unauth, perm, sentNF bool
	}{
		{&y360.APIError{Status: 429}, true, false, false, false, false},
		{&y360.APIError{Status: 503}, false, false, false, false, false},
		{&y360.APIError{Status: 500}, false, false, false, false, false},
		{&y360.APIError{Status: 404, Name: "DiskNotFoundError"}, false, true, false, true, true},
		{&y360.APIError{Status: 400, Code: 5}, false, true, false, true, true},
		{&y360.APIError{Status: 401}, false, false, true, true, false},
		{&y360.APIError{Status: 403, Code: 7}, false, false, false, true, false},
		{&y360.APIError{Status: 409, Name: "DiskPathDoesntExistsError"}, false, false, false, true, false},
		{&y360.APIError{Status: 423, Name: "DiskResourceLockedError"}, false, false, false, false, false},
		{&y360.APIError{Status: 507}, false, false, false, true, false},
		{&y360.APIError{Status: 403, Name: "DiskResourceDownloadLimitExceededError"}, true, false, false, false, false},
		{fmt.Errorf("wrapped: %w", &y360.APIError{Status: 429}), true, false, false, false, false},
		{errors.New("plain"), false, false, false, false, false},
		{nil, false, false, false, false, false},
	}
	for i, tc := range cases {
		got := []bool{y360.IsRateLimited(tc.err), y360.IsNotFound(tc.err), y360.IsUnauthorized(tc.err),
			y360.IsPermanent(tc.err), errors.Is(tc.err, sources.ErrNotFound)}
		want := []bool{tc.rate, tc.notFound, tc.unauth, tc.perm, tc.sentNF}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("case %d (%v): rate/notfound/unauth/perm/ErrNotFound = %v, want %v", i, tc.err, got, want)
		}
	}
	if !errors.Is(fmt.Errorf("x: %w", &y360.APIError{Status: 401}), sources.ErrUnauthorized) {
		t.Error("401 is not sources.ErrUnauthorized")
	}
}
