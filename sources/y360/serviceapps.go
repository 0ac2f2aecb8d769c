package y360

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/y360backup/y360backup/sources/y360/api"
)

// ServiceApp is one entry of the org's service-application list: the OAuth
// app's client id and the scopes its exchanged tokens may carry.
type ServiceApp struct {
	ID     string
	Scopes []string
}

// These calls need the org owner's token with ya360_security:service_applications_read
// (list) or _write (the rest); others get 403 "Not an owner". Before
// ActivateServiceApps they fail with "feature is not active".

func (c *Client) serviceAppsPath(suffix string) string {
	return "/security/v1/org/" + url.PathEscape(c.cfg.OrgID) + "/service_applications" + suffix
}

// ListServiceApps returns the organization's service-application list.
func (c *Client) ListServiceApps(ctx context.Context) ([]ServiceApp, error) {
	var body api.ServiceApps
	if err := c.adminJSON(ctx, http.MethodGet, c.serviceAppsPath(""), nil, &body); err != nil {
		return nil, fmt.Errorf("y360: list service applications: %w", err)
	}
	apps := make([]ServiceApp, 0, len(body.Applications))
	for _, a := range body.Applications {
		apps = append(apps, ServiceApp{ID: a.ID, Scopes: a.Scopes})
	}
	return apps, nil
}

// SetServiceApps REPLACES the whole list with apps (Yandex has no per-app
// add/remove: read with ListServiceApps, edit, write back).
func (c *Client) SetServiceApps(ctx context.Context, apps []ServiceApp) error {
	body := api.ServiceApps{Applications: make([]api.ServiceApp, 0, len(apps))}
	for _, a := range apps {
		scopes := a.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		body.Applications = append(body.Applications, api.ServiceApp{ID: a.ID, Scopes: scopes})
	}
	if err := c.adminJSON(ctx, http.MethodPost, c.serviceAppsPath(""), body, nil); err != nil {
		return fmt.Errorf("y360: set service applications: %w", err)
	}
	return nil
}

// ClearServiceApps deletes the whole list (the only edit allowed after deactivation).
func (c *Client) ClearServiceApps(ctx context.Context) error {
	if err := c.adminJSON(ctx, http.MethodDelete, c.serviceAppsPath(""), nil, nil); err != nil {
		return fmt.Errorf("y360: clear service applications: %w", err)
	}
	return nil
}

// ActivateServiceApps turns the service-applications feature on for the org.
func (c *Client) ActivateServiceApps(ctx context.Context) error {
	if err := c.adminJSON(ctx, http.MethodPost, c.serviceAppsPath("/activate"), struct{}{}, nil); err != nil {
		return fmt.Errorf("y360: activate service applications: %w", err)
	}
	return nil
}

// DeactivateServiceApps turns the feature off (exchanged tokens stop working).
func (c *Client) DeactivateServiceApps(ctx context.Context) error {
	if err := c.adminJSON(ctx, http.MethodPost, c.serviceAppsPath("/deactivate"), struct{}{}, nil); err != nil {
		return fmt.Errorf("y360: deactivate service applications: %w", err)
	}
	return nil
}

// Identity is what GET /whoami says about a token.
type Identity struct {
	Login  string
	Scopes []string
	OrgIDs []string
}

// HasScope reports whether the token carries scope s.
func (id Identity) HasScope(s string) bool {
	for _, x := range id.Scopes {
		if x == s {
			return true
		}
	}
	return false
}

// Whoami describes the admin token (login, scopes, orgs). The endpoint is
// undocumented (yandex-api.md §0), so callers should treat a 404 as "unknown".
func (c *Client) Whoami(ctx context.Context) (Identity, error) {
	return c.whoami(ctx, c.cfg.AdminToken)
}

// WhoamiToken describes any token, e.g. one minted for a user.
func (c *Client) WhoamiToken(ctx context.Context, token string) (Identity, error) {
	return c.whoami(ctx, token)
}

func (c *Client) whoami(ctx context.Context, token string) (Identity, error) {
	req, err := c.adminRequest(ctx, http.MethodGet, "/whoami", nil)
	if err != nil {
		return Identity{}, err
	}
	req.Header.Set("Authorization", "OAuth "+token)
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return Identity{}, fmt.Errorf("y360: whoami: %w", err)
	}
	defer drainClose(resp.Body)
	var w api.Whoami
	if err := decodeJSON(resp, &w); err != nil {
		return Identity{}, fmt.Errorf("y360: whoami: %w", err)
	}
	id := Identity{Login: w.Login, Scopes: w.Scopes}
	for _, o := range w.OrgIDs {
		id.OrgIDs = append(id.OrgIDs, string(o))
	}
	return id, nil
}
