package calendar

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

// Request bodies. Namespaces as Yandex's Outlook connector and Apple clients use them.
const (
	xmlHeader = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

	// propfindCollections is the discovery PROPFIND (Depth 1) on the calendar home.
	propfindCollections = xmlHeader + `<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/">` +
		`<D:prop><D:resourcetype/><D:displayname/><CS:getctag/><I:calendar-color/><C:supported-calendar-component-set/><D:sync-token/><D:supported-report-set/></D:prop></D:propfind>`

	// propfindETags lists a collection's members (Depth 1).
	propfindETags = xmlHeader + `<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/></D:prop></D:propfind>`
)

func syncCollectionBody(token string) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`)
	xml.EscapeText(&b, []byte(token))
	b.WriteString(`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`)
	return b.Bytes()
}

func multigetBody(hrefs []string) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>`)
	for _, h := range hrefs {
		b.WriteString("<D:href>")
		xml.EscapeText(&b, []byte(h))
		b.WriteString("</D:href>")
	}
	b.WriteString(`</C:calendar-multiget>`)
	return b.Bytes()
}

// errInvalidSyncToken means the server no longer accepts our sync-token
// (RFC 6578 §3.2: 403 with DAV:valid-sync-token; Xandikos answers 500).
var errInvalidSyncToken = errors.New("sync-token no longer valid")

// dav issues the raw requests go-webdav's client has no call for (or parses
// in ways we cannot use: it decodes calendar-data into go-ical, losing the
// server's bytes, and buffers whole multistatus bodies).
type dav struct {
	hc   *authClient
	base *url.URL
}

// resolve turns an href (path or absolute URL, as the server sent it) into a
// request URL on the server, keeping the server's percent-encoding.
func (c *dav) resolve(href string) (*url.URL, error) {
	u, err := url.Parse(href)
	if err != nil {
		return nil, fmt.Errorf("href %q: %w", href, err)
	}
	return c.base.ResolveReference(u), nil
}

// do sends one request and returns a response with a 2xx status; anything
// else becomes a *StatusError.
func (c *dav) do(ctx context.Context, method, href, depth string, body []byte) (*http.Response, error) {
	hdr := http.Header{}
	if body != nil {
		hdr.Set("Content-Type", `application/xml; charset="utf-8"`)
	}
	if depth != "" {
		hdr.Set("Depth", depth)
	}
	return c.send(ctx, method, href, hdr, body)
}

// send is do with the caller's headers. The body is replayable (a 401 is
// retried once with a fresh token).
func (c *dav) send(ctx context.Context, method, href string, hdr http.Header, body []byte) (*http.Response, error) {
	u, err := c.resolve(href)
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
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, newStatusError(resp)
	}
	return resp, nil
}

// multistatus sends a PROPFIND/REPORT and streams its 207 answer into fn.
func (c *dav) multistatus(ctx context.Context, method, href, depth string, body []byte, fn func(*msResponse) error) (string, error) {
	resp, err := c.do(ctx, method, href, depth, body)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return "", fmt.Errorf("calendar: %s %s: HTTP %d, want 207 Multi-Status", method, resp.Request.URL.Path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if t, _, _ := mime.ParseMediaType(ct); t != "application/xml" && t != "text/xml" {
			return "", fmt.Errorf("calendar: %s %s: Content-Type %q, want XML", method, resp.Request.URL.Path, ct)
		}
	}
	tok, err := decodeMultiStatus(resp.Body, fn)
	if err != nil {
		return "", fmt.Errorf("calendar: %s %s: %w", method, resp.Request.URL.Path, err)
	}
	return tok, nil
}

// syncCollection runs one RFC 6578 REPORT. Invalid tokens map to errInvalidSyncToken.
func (c *dav) syncCollection(ctx context.Context, href, token string, fn func(*msResponse) error) (string, error) {
	tok, err := c.multistatus(ctx, "REPORT", href, "", syncCollectionBody(token), fn)
	var se *StatusError
	// 403 is the RFC answer (with DAV:valid-sync-token); 5xx is what Xandikos
	// does; 412 is seen on some servers. Falling back to a full listing is
	// always safe: a 403 that means "no access" fails that listing too.
	if errors.As(err, &se) && (se.Code == http.StatusForbidden || se.Code == http.StatusPreconditionFailed || se.Code/100 == 5) {
		return "", fmt.Errorf("%w: %w", errInvalidSyncToken, err)
	}
	return tok, err
}

// get fetches one object's bytes as the server serves them.
func (c *dav) get(ctx context.Context, href string) (data []byte, etag string, err error) {
	resp, err := c.do(ctx, http.MethodGet, href, "", nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, maxObjectSize+1)) // store skips larger ones
	if err != nil {
		return nil, "", fmt.Errorf("calendar: GET %s: %w", resp.Request.URL.Path, err)
	}
	return data, resp.Header.Get("ETag"), nil
}
