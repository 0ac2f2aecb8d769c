package y360

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360/api"
)

// UsersPerPage is the page size ListUsers asks for (the largest that works
// in practice, see docs/yandex-api.md §1).
const UsersPerPage = 1000

// ListUsers calls fn for every user of the organization, robots and blocked
// users included (filtering is the caller's business), in the order the
// Directory API returns them. Each page is decoded as a stream, so memory
// does not grow with the page size. fn runs on the caller's goroutine; an
// error from fn stops the listing and is returned as is.
//
// What the server says is checked, not trusted: a page body is read up to
// maxPageBytes, and "pages" must agree with "total" (when given), stay
// under maxPages, and a page before the last must hold users.
func (c *Client) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for page := 1; ; page++ {
		p, err := c.usersPage(ctx, page, fn)
		if err != nil {
			return err
		}
		if err := p.sane(page); err != nil {
			return fmt.Errorf("y360: list users page %d: %w", page, err)
		}
		if page >= p.pages {
			return nil
		}
	}
}

// maxPageBytes bounds one page's body: 1000 users take ~1 MB.
const maxPageBytes = 64 << 20

// maxPages bounds the listing at 10 million users (1000 per page).
const maxPages = 10_000

// pageInfo is what a page says about the listing.
type pageInfo struct {
	pages, total, users int
	hasTotal            bool
}

// sane reports a listing that cannot be right, before it runs forever.
func (p pageInfo) sane(page int) error {
	switch {
	case p.pages > maxPages:
		return fmt.Errorf("the server claims %d pages (more than %d): refusing an endless listing", p.pages, maxPages)
	case p.hasTotal && p.pages > (p.total+UsersPerPage-1)/UsersPerPage+1:
		return fmt.Errorf("the server claims %d pages for %d users at %d per page", p.pages, p.total, UsersPerPage)
	case page < p.pages && p.users == 0:
		return fmt.Errorf("page %d of %d holds no users", page, p.pages)
	}
	return nil
}

// errStop wraps an error returned by the caller's callback, so it is told
// apart from decode errors and returned unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// usersPage fetches one page, feeds its users to fn and returns what the
// page says about the listing.
func (c *Client) usersPage(ctx context.Context, page int, fn func(sources.User) error) (pageInfo, error) {
	path := fmt.Sprintf("/directory/v1/org/%s/users?page=%d&perPage=%d", url.PathEscape(c.cfg.OrgID), page, UsersPerPage)
	req, err := c.adminRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return pageInfo{}, err
	}
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return pageInfo{}, fmt.Errorf("y360: list users page %d: %w", page, err)
	}
	defer drainClose(resp.Body)
	body := &io.LimitedReader{R: resp.Body, N: maxPageBytes}
	p, err := decodeUsersPage(json.NewDecoder(body), fn)
	if err != nil {
		if s, ok := err.(errStop); ok {
			return pageInfo{}, s.err
		}
		if body.N <= 0 {
			err = fmt.Errorf("the answer is larger than %d MiB; a page of %d users is ~1 MB", maxPageBytes>>20, UsersPerPage)
		}
		return pageInfo{}, fmt.Errorf("y360: list users page %d: decode: %w", page, err)
	}
	return p, nil
}

// decodeUsersPage walks {"users":[...],"pages":N,...} token by token, handing
// each user to fn as soon as it is decoded. Unknown keys are skipped.
func decodeUsersPage(dec *json.Decoder, fn func(sources.User) error) (p pageInfo, err error) {
	if err := expectDelim(dec, '{'); err != nil {
		return p, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return p, err
		}
		switch key {
		case "users":
			if err := decodeUsers(dec, func(u sources.User) error { p.users++; return fn(u) }); err != nil {
				return p, err
			}
		case "pages":
			if err := dec.Decode(&p.pages); err != nil {
				return p, fmt.Errorf("pages: %w", err)
			}
		case "total":
			if err := dec.Decode(&p.total); err != nil {
				return p, fmt.Errorf("total: %w", err)
			}
			p.hasTotal = true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return p, err
			}
		}
	}
	return p, expectDelim(dec, '}')
}

func decodeUsers(dec *json.Decoder, fn func(sources.User) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil { // "users": null
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("users: expected an array, got %v", tok)
	}
	for dec.More() {
		var u api.User
		if err := dec.Decode(&u); err != nil {
			return fmt.Errorf("user: %w", err)
		}
		if u.ID == "" {
			return fmt.Errorf("user %q has no id", u.Email)
		}
		if err := fn(toUser(u)); err != nil {
			return errStop{err}
		}
	}
	return expectDelim(dec, ']')
}

func toUser(u api.User) sources.User {
	return sources.User{
		ID:       string(u.ID),
		Email:    u.Email,
		Nickname: u.Nickname,
		Enabled:  u.IsEnabled,
		Robot:    u.IsRobot,
	}
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, got %v", want, tok)
	}
	return nil
}
