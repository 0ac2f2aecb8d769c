package dav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// XMLHeader starts every request body.
const XMLHeader = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

// PropfindETags lists a collection's members (Depth 1).
const PropfindETags = XMLHeader + `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/></D:prop></D:propfind>`

// SyncCollectionBody is an RFC 6578 sync-collection REPORT asking for etags.
func SyncCollectionBody(token string) []byte {
	var b bytes.Buffer
	b.WriteString(XMLHeader + `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`)
	xml.EscapeText(&b, []byte(token))
	b.WriteString(`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
	return b.Bytes()
}

// ErrInvalidSyncToken means the server no longer accepts our sync-token
// (RFC 6578 §3.2: 403 with DAV:valid-sync-token; Xandikos answers 500).
var ErrInvalidSyncToken = errors.New("sync-token no longer valid")

// Client issues the raw requests go-webdav's client has no call for (or
// parses in ways we cannot use: it decodes calendar-data and address-data
// into models, losing the server's bytes, and buffers whole multistatus
// bodies).
type Client struct {
	HC   *AuthClient
	Base *url.URL
}

// Resolve turns an href (path or absolute URL, as the server sent it) into a
// request URL on the server, keeping the server's percent-encoding.
func (c *Client) Resolve(href string) (*url.URL, error) {
	u, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("href %q: %w", href, err)
	}
	return c.Base.ResolveReference(u), nil
}

// Do sends one request and returns a response with a 2xx status; anything
// else becomes a *StatusError.
func (c *Client) Do(ctx context.Context, method, href, depth string, body []byte) (*http.Response, error) {
	hdr := http.Header{}
	if body != nil {
		hdr.Set("Content-Type", `application/xml; charset="utf-8"`)
	}
	if depth != "" {
		hdr.Set("Depth", depth)
	}
	return c.Send(ctx, method, href, hdr, body)
}

// Send is Do with the caller's headers. The body is replayable (a 401 is
// retried once with a fresh token).
func (c *Client) Send(ctx context.Context, method, href string, hdr http.Header, body []byte) (*http.Response, error) {
	u, err := c.Resolve(href)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, NewStatusError(c.HC.Source, resp)
	}
	return resp, nil
}

// Multistatus sends a PROPFIND/REPORT and streams its 207 answer into fn.
func (c *Client) Multistatus(ctx context.Context, method, href, depth string, body []byte, fn func(*Response) error) (string, error) {
	resp, err := c.Do(ctx, method, href, depth, body)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return "", fmt.Errorf("%s: %s %s: HTTP %d, want 207 Multi-Status", c.HC.Source, method, resp.Request.URL.Path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if t, _, _ := mime.ParseMediaType(ct); t != "application/xml" && t != "text/xml" {
			return "", fmt.Errorf("%s: %s %s: Content-Type %q, want XML", c.HC.Source, method, resp.Request.URL.Path, ct)
		}
	}
	tok, err := DecodeMultiStatus(resp.Body, fn)
	if err != nil {
		return "", fmt.Errorf("%s: %s %s: %w", c.HC.Source, method, resp.Request.URL.Path, err)
	}
	return tok, nil
}

// SyncCollection runs one RFC 6578 REPORT. Invalid tokens map to ErrInvalidSyncToken.
func (c *Client) SyncCollection(ctx context.Context, href, token string, fn func(*Response) error) (string, error) {
	tok, err := c.Multistatus(ctx, "REPORT", href, "", SyncCollectionBody(token), fn)
	var se *StatusError
	// 403 is the RFC answer (with DAV:valid-sync-token); 5xx is what Xandikos
	// does; 412 is seen on some servers. Falling back to a full listing is
	// always safe: a 403 that means "no access" fails that listing too.
	if errors.As(err, &se) && (se.Code == http.StatusForbidden || se.Code == http.StatusPreconditionFailed || se.Code/100 == 5) {
		return "", fmt.Errorf("%w: %w", ErrInvalidSyncToken, err)
	}
	return tok, err
}

// Get fetches one object's bytes as the server serves them, at most limit+1
// bytes of them (a caller that sees more than limit skips the object).
func (c *Client) Get(ctx context.Context, href string, limit int64) (data []byte, etag string, err error) {
	resp, err := c.Do(ctx, http.MethodGet, href, "", nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: GET %s: %w", c.HC.Source, resp.Request.URL.Path, err)
	}
	return data, resp.Header.Get("ETag"), nil
}

// PutCond is the precondition of a PUT.
type PutCond struct {
	IfNoneMatch bool   // "If-None-Match: *": only create, never overwrite
	IfMatch     string // "If-Match: <etag>": only overwrite this version
}

// Put writes one object's bytes unchanged and returns the etag the server
// answers with ("" when it sends none: a server that changed the data may
// omit it). open is called once per attempt (a 401 is replayed with a fresh
// token), so a large body streams from the repository and is never held.
func (c *Client) Put(ctx context.Context, href, contentType string, size int64,
	open func() (io.ReadCloser, error), cond PutCond) (string, error) {
	u, err := c.Resolve(href)
	if err != nil {
		return "", err
	}
	body, err := open()
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		body.Close()
		return "", err
	}
	req.ContentLength = size
	req.GetBody = open
	req.Header.Set("Content-Type", contentType)
	if cond.IfNoneMatch {
		req.Header.Set("If-None-Match", "*")
	}
	if cond.IfMatch != "" {
		req.Header.Set("If-Match", QuoteETag(cond.IfMatch))
	}
	resp, err := c.HC.Do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", NewStatusError(c.HC.Source, resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.Header.Get("ETag"), nil
}

// Exec sends a request whose answer carries nothing we need (MKCOL,
// MKCALENDAR, DELETE): any 2xx is success, anything else a *StatusError.
func (c *Client) Exec(ctx context.Context, method, href string, body []byte) error {
	resp, err := c.Do(ctx, method, href, "", body)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}
