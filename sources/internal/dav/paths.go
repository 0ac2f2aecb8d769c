package dav

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// EscapePath percent-encodes a decoded path for use as a request href.
func EscapePath(p string) string { return (&url.URL{Path: p}).EscapedPath() }

// HrefPath decodes an href (path or absolute URL) to a plain path.
func HrefPath(href string) (string, error) {
	u, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("href %q: %w", href, err)
	}
	return u.Path, nil
}

// CleanDir normalizes a collection path to "/a/b/" form.
func CleanDir(p string) string {
	p = path.Clean("/" + p)
	if p != "/" {
		p += "/"
	}
	return p
}

// RelName is child's path below dir ("/cal/u/" + "/cal/u/events-default/" →
// "events-default"), without slashes at either end.
func RelName(dir, child string) (string, bool) {
	if !strings.HasPrefix(child, dir) {
		return "", false
	}
	rel := strings.Trim(strings.TrimPrefix(child, dir), "/")
	return rel, rel != ""
}

// SameETag compares etags ignoring the weak marker and quotes, which servers
// apply inconsistently between PROPFIND, REPORT and GET.
func SameETag(a, b string) bool {
	return a != "" && NormETag(a) == NormETag(b)
}

// NormETag strips the weak marker and the quotes.
func NormETag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	return strings.Trim(e, `"`)
}

// QuoteETag turns an etag as listed (servers differ in quoting it) into
// the quoted form If-Match wants.
func QuoteETag(e string) string {
	if len(e) >= 2 && (e[0] == '"' || e[:2] == "W/") {
		return e
	}
	return `"` + e + `"`
}

// SortedKeys gives deterministic request order (stable tests, readable logs).
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// IsStatus reports whether err is a *StatusError with this HTTP code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == code
}

// IsCondition reports whether err is a *StatusError naming this DAV precondition.
func IsCondition(err error, cond string) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Condition == cond
}
