package y360

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Bounds of the raw admin-API readers (ListPages, GetRaw). Answers of the
// org API are small; the bounds keep a hostile or broken server from making
// us buffer without end.
const (
	maxPageBody   = 64 << 20 // one page of a listing
	maxRawObject  = 4 << 20  // one object (a listed element or a GET answer)
	maxListPages  = 1 << 20  // pages of one listing, whatever the server claims
	defaultPerReq = 100
)

// PageInfo is the paging envelope of one listing page. Fields the server
// did not send are 0 (the shared-mailbox list has no "pages", for instance).
type PageInfo struct {
	Page, Pages, PerPage, Total int
	Items                       int // elements found on the page
}

// ListPages walks a paged admin-API listing (…?page=N&perPage=M, pages from
// 1) and calls fn with every element of the array under the first of keys
// the answer holds, as the exact bytes the server sent. Each page is decoded
// as a stream, so memory is bounded by one element, not by the page.
//
// Paging ends at the first of: an empty page, page >= "pages", elements seen
// >= "total", a short page when the server sends neither. A server that
// claims more pages than its total allows ("pages": 999999999 with 30
// users) therefore stops at the total; one that ignores the page parameter
// (the same page twice) is an error, never an endless loop.
//
// An error from fn stops the walk and is returned unwrapped; other errors
// name the path and page (never the query or a token).
func (c *Client) ListPages(ctx context.Context, path string, keys []string, perPage int, fn func(json.RawMessage) error) error {
	if perPage <= 0 {
		perPage = defaultPerReq
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	seen := 0
	var last [sha256.Size]byte
	for page := 1; page <= maxListPages; page++ {
		p := path + sep + "page=" + strconv.Itoa(page) + "&perPage=" + strconv.Itoa(perPage)
		h := sha256.New()
		n := 0
		info, err := c.listPage(ctx, p, keys, func(raw json.RawMessage) error {
			h.Write(raw)
			n++
			return fn(raw)
		})
		if err != nil {
			var s errStop
			if errors.As(err, &s) {
				return s.err
			}
			return fmt.Errorf("y360: list %s page %d: %w", path, page, err)
		}
		seen += n
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		switch {
		case n == 0:
			return nil
		case page > 1 && sum == last:
			return fmt.Errorf("y360: list %s: page %d repeats page %d (the server ignores paging); stopped", path, page, page-1)
		case info.Pages > 0 && page >= info.Pages:
			return nil
		case info.Total > 0 && seen >= info.Total:
			return nil
		case info.Pages == 0 && info.Total == 0 && n < max(info.PerPage, perPage):
			return nil
		}
		last = sum
	}
	return fmt.Errorf("y360: list %s: more than %d pages; stopped", path, maxListPages)
}

// listPage fetches and decodes one page.
func (c *Client) listPage(ctx context.Context, path string, keys []string, fn func(json.RawMessage) error) (PageInfo, error) {
	req, err := c.adminRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return PageInfo{}, err
	}
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return PageInfo{}, err
	}
	defer drainClose(resp.Body)
	info, err := DecodePage(io.LimitReader(resp.Body, maxPageBody), keys, fn)
	if err != nil {
		if _, ok := err.(errStop); ok {
			return info, err
		}
		return info, fmt.Errorf("decode: %w", err)
	}
	return info, nil
}

// DecodePage reads one listing envelope {"<key>":[...],"page":..,...} from r,
// handing each element of the first array found under keys to fn as raw
// bytes. Other keys are skipped; a null array counts as empty. An error
// returned by fn comes back wrapped in an internal stop marker that
// ListPages unwraps; errors.Is still matches it.
func DecodePage(r io.Reader, keys []string, fn func(json.RawMessage) error) (PageInfo, error) {
	dec := json.NewDecoder(r)
	var info PageInfo
	if err := expectDelim(dec, '{'); err != nil {
		return info, err
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return info, err
		}
		key, _ := tok.(string)
		switch {
		case !found && contains(keys, key):
			found = true
			n, err := decodeRawArray(dec, key, fn)
			info.Items = n
			if err != nil {
				return info, err
			}
		case key == "page" || key == "pages" || key == "perPage" || key == "total":
			var v int
			if err := dec.Decode(&v); err != nil {
				return info, fmt.Errorf("%s: %w", key, err)
			}
			if v < 0 {
				return info, fmt.Errorf("%s: negative value %d", key, v)
			}
			setPageField(&info, key, v)
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return info, err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return info, err
	}
	if !found {
		return info, fmt.Errorf("no %q array in the answer", keys[0])
	}
	return info, nil
}

func setPageField(info *PageInfo, key string, v int) {
	switch key {
	case "page":
		info.Page = v
	case "pages":
		info.Pages = v
	case "perPage":
		info.PerPage = v
	case "total":
		info.Total = v
	}
}

func decodeRawArray(dec *json.Decoder, key string, fn func(json.RawMessage) error) (int, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, err
	}
	if tok == nil {
		return 0, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return 0, fmt.Errorf("%s: expected an array, got %v", key, tok)
	}
	n := 0
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return n, fmt.Errorf("%s[%d]: %w", key, n, err)
		}
		if len(raw) > maxRawObject {
			return n, fmt.Errorf("%s[%d]: %d bytes, more than the %d allowed for one object", key, n, len(raw), maxRawObject)
		}
		n++
		if err := fn(raw); err != nil {
			return n, errStop{err}
		}
	}
	return n, expectDelim(dec, ']')
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// GetRaw sends an admin GET to path and returns the answer's bytes exactly
// as served, after checking they are one JSON value. Answers larger than
// 4 MiB are refused (no org object comes near).
func (c *Client) GetRaw(ctx context.Context, path string) ([]byte, error) {
	req, err := c.adminRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	defer drainClose(resp.Body)
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRawObject+1))
	if err != nil {
		return nil, fmt.Errorf("y360: GET %s: read: %w", pathOnly(path), err)
	}
	if len(b) > maxRawObject {
		return nil, fmt.Errorf("y360: GET %s: answer larger than %d bytes", pathOnly(path), maxRawObject)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("y360: GET %s: the answer is not valid JSON", pathOnly(path))
	}
	return b, nil
}

// pathOnly drops the query of an API path for messages.
func pathOnly(p string) string {
	if u, err := url.Parse(p); err == nil {
		return u.Path
	}
	return p
}

// Unwrap lets errors.Is see the callback's error through the stop marker.
func (e errStop) Unwrap() error { return e.err }

// HTTPStatus is the answer's HTTP status, for packages that classify
// errors without importing this one.
func (e *APIError) HTTPStatus() int { return e.Status }
