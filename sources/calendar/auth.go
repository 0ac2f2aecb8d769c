package calendar

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
	s := fmt.Sprintf("calendar: %s %s: HTTP %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
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

// newStatusError consumes (a bounded prefix of) resp's body and closes it.
func newStatusError(resp *http.Response) *StatusError {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	detail := b
	if len(detail) > 512 {
		detail = detail[:512]
	}
	return &StatusError{
		Method:    resp.Request.Method,
		Path:      resp.Request.URL.Path,
		Code:      resp.StatusCode,
		Detail:    oneLine(string(detail)),
		Condition: davCondition(b),
	}
}

// davCondition returns the local name of the first element inside a
// DAV:error body, or "".
func davCondition(body []byte) string {
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
			if se.Name.Space != nsDAV || se.Name.Local != "error" {
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

// authClient is the webdav.HTTPClient every request goes through. It asks
// the TokenSource for a token per request (the source caches and re-mints),
// and on a 401 invalidates that token and retries once with a fresh one. A
// second 401 becomes a *StatusError matching sources.ErrUnauthorized.
type authClient struct {
	hc      *http.Client
	tok     sources.TokenSource
	basic   string // Basic login (the user's email); "" = OAuth scheme
	timeout time.Duration
}

var _ webdav.HTTPClient = (*authClient)(nil)

func (a *authClient) Do(req *http.Request) (*http.Response, error) {
	resp, used, err := a.try(req, req.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	first := newStatusError(resp)
	a.tok.Invalidate(used)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return nil, first // cannot replay the body
	}
	var body io.ReadCloser
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("calendar: %s %s: replay body: %w", req.Method, req.URL.Path, err)
		}
	}
	resp, _, err = a.try(req, body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, newStatusError(resp)
	}
	return resp, nil
}

// try sends one attempt of req with a current token and returns the token
// used, so a 401 invalidates exactly that one.
func (a *authClient) try(req *http.Request, body io.ReadCloser) (*http.Response, string, error) {
	ctx := req.Context()
	tok, err := a.tok.Token(ctx)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, "", fmt.Errorf("calendar: token: %w", err)
	}
	cancel := context.CancelFunc(func() {})
	if a.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
	}
	r := req.Clone(ctx)
	r.Body = body
	if a.basic != "" {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.basic+":"+tok)))
	} else {
		r.Header.Set("Authorization", "OAuth "+tok)
	}
	resp, err := a.hc.Do(r)
	if err != nil {
		cancel()
		return nil, tok, fmt.Errorf("calendar: %s %s: %w", req.Method, req.URL.Path, err)
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
