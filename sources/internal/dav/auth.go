package dav

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/emersion/go-webdav"

	"github.com/y360backup/y360backup/sources"
)

// StatusError is an HTTP answer the source could not use. It matches
// sources.ErrUnauthorized (401) and sources.ErrNotFound (404) with errors.Is.
// go-webdav passes errors returned by our HTTPClient through unchanged, so
// this type survives its calls too.
type StatusError struct {
	Source string // "calendar", "contacts": the prefix of the message
	Method string
	Path   string // URL path, never the query or credentials
	Code   int
	Detail string // first bytes of a text or XML body, if any
	// Condition is the precondition a DAV:error body names (RFC 4918 §16,
	// RFC 4791 §1.3), e.g. "no-uid-conflict" or "resource-must-be-null";
	// "" when the body names none.
	Condition string
}

func (e *StatusError) Error() string {
	src := e.Source
	if src == "" {
		src = "dav"
	}
	s := fmt.Sprintf("%s: %s %s: HTTP %d %s", src, e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes errors.Is(err, sources.ErrUnauthorized / ErrNotFound) work.
func (e *StatusError) Is(target error) bool {
	switch target {
	case sources.ErrUnauthorized:
		return e.Code == http.StatusUnauthorized
	case sources.ErrNotFound:
		return e.Code == http.StatusNotFound
	}
	return false
}

// NewStatusError consumes (a bounded prefix of) resp's body and closes it.
func NewStatusError(source string, resp *http.Response) *StatusError {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	detail := b
	if len(detail) > 512 {
		detail = detail[:512]
	}
	return &StatusError{
		Source:    source,
		Method:    resp.Request.Method,
		Path:      resp.Request.URL.Path,
		Code:      resp.StatusCode,
		Detail:    oneLine(string(detail)),
		Condition: Condition(b),
	}
}

// Condition returns the local name of the first element inside a
// DAV:error body, or "".
func Condition(body []byte) string {
	d := xml.NewDecoder(bytes.NewReader(body))
	inError := false
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			if inError {
				return se.Name.Local
			}
			if se.Name.Space != NSDAV || se.Name.Local != "error" {
				return ""
			}
			inError = true
		}
	}
}

func oneLine(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\r' || r == '\n' || r == '\t' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// AuthClient is the webdav.HTTPClient every request goes through. It asks
// the TokenSource for a token per request (the source caches and re-mints),
// and on a 401 invalidates that token and retries once with a fresh one. A
// second 401 becomes a *StatusError matching sources.ErrUnauthorized.
type AuthClient struct {
	HC      *http.Client
	Tok     sources.TokenSource
	Basic   string // Basic login (the user's email); "" = OAuth scheme
	Timeout time.Duration
	Source  string // "calendar", "contacts": prefixes errors
}

var _ webdav.HTTPClient = (*AuthClient)(nil)

func (a *AuthClient) Do(req *http.Request) (*http.Response, error) {
	resp, used, err := a.try(req, req.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	first := NewStatusError(a.Source, resp)
	a.Tok.Invalidate(used)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return nil, first // cannot replay the body
	}
	var body io.ReadCloser
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("%s: %s %s: replay body: %w", a.Source, req.Method, req.URL.Path, err)
		}
	}
	resp, _, err = a.try(req, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, NewStatusError(a.Source, resp)
	}
	return resp, nil
}

// try sends one attempt of req with a current token and returns the token
// used, so a 401 invalidates exactly that one.
func (a *AuthClient) try(req *http.Request, body io.ReadCloser) (*http.Response, string, error) {
	ctx := req.Context()
	tok, err := a.Tok.Token(ctx)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, "", fmt.Errorf("%s: token: %w", a.Source, err)
	}
	cancel := context.CancelFunc(func() {})
	if a.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, a.Timeout)
	}
	r := req.Clone(ctx)
	r.Body = body
	if a.Basic != "" {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.Basic+":"+tok)))
	} else {
		r.Header.Set("Authorization", "OAuth "+tok)
	}
	resp, err := a.HC.Do(r)
	if err != nil {
		cancel()
		return nil, tok, fmt.Errorf("%s: %s %s: %w", a.Source, req.Method, req.URL.Path, err)
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, tok, nil
}

// cancelOnClose releases the per-request timeout once the body is done.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
