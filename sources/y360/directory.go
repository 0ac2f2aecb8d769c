package y360

import (
	"context"
	"encoding/json"
	"fmt"
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
func (c *Client) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for page := 1; ; page++ {
		pages, err := c.usersPage(ctx, page, fn)
		if err != nil {
			return err
		}
		if page >= pages {
			return nil
		}
	}
}

// errStop wraps an error returned by the caller's callback, so it is told
// apart from decode errors and returned unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// usersPage fetches one page, feeds its users to fn and returns "pages".
func (c *Client) usersPage(ctx context.Context, page int, fn func(sources.User) error) (int, error) {
	path := fmt.Sprintf("/directory/v1/org/%s/users?page=%d&perPage=%d", url.PathEscape(c.cfg.OrgID), page, UsersPerPage)
	req, err := c.adminRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("y360: list users page %d: %w", page, err)
	}
	defer drainClose(resp.Body)
	pages, err := decodeUsersPage(json.NewDecoder(resp.Body), fn)
	if err != nil {
		if s, ok := err.(errStop); ok {
			return 0, s.err
		}
		return 0, fmt.Errorf("y360: list users page %d: decode: %w", page, err)
	}
	return pages, nil
}

// decodeUsersPage walks {"users":[...],"pages":N,...} token by token, handing
// each user to fn as soon as it is decoded. Unknown keys are skipped.
func decodeUsersPage(dec *json.Decoder, fn func(sources.User) error) (pages int, err error) {
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, err
		}
		switch key {
		case "users":
			if err := decodeUsers(dec, fn); err != nil {
				return 0, err
			}
		case "pages":
			if err := dec.Decode(&pages); err != nil {
				return 0, fmt.Errorf("pages: %w", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, err
			}
		}
	}
	return pages, expectDelim(dec, '}')
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
