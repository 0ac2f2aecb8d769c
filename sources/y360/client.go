package y360

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Client talks to one organization's admin API and mints its users' tokens.
// It is safe for concurrent use; all state (token cache, rate limit) hangs
// off the value, so several orgs can be served in one process.
type Client struct {
	cfg  Config
	doer *Doer

	mu     sync.Mutex
	tokens map[string]*userTokens // by user id; see Tokens
}

// New validates cfg, fills defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := cfg.Doer
	if d == nil {
		var opts []DoerOption
		if cfg.MinBackoff > 0 || cfg.MaxBackoff > 0 {
			opts = append(opts, WithBackoff(cfg.MinBackoff, cfg.MaxBackoff))
		}
		d = NewDoer(cfg.HTTPClient, cfg.RPS, cfg.MaxRetries, opts...)
	}
	return &Client{cfg: cfg, doer: d, tokens: make(map[string]*userTokens)}, nil
}

// Doer returns the HTTP helper this client sends everything through, so other
// packages (sources/disk) can share its rate limit and retry policy.
func (c *Client) Doer() *Doer { return c.doer }

// Do sends req through the client's Doer (see Doer.Do). It adds no auth.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	return c.doer.Do(ctx, req)
}

// OrgID returns the configured organization id.
func (c *Client) OrgID() string { return c.cfg.OrgID }

// adminRequest builds a request to the admin API with the admin token.
// body, if not nil, is JSON-encoded (and replayable for retries).
func (c *Client) adminRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("y360: %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIBase+path, rd)
	if err != nil {
		return nil, fmt.Errorf("y360: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "OAuth "+c.cfg.AdminToken)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// adminJSON sends an admin request and decodes a JSON answer into out (nil = discard).
func (c *Client) adminJSON(ctx context.Context, method, path string, body, out any) error {
	req, err := c.adminRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	if out == nil {
		return nil
	}
	if err := decodeJSON(resp, out); err != nil {
		return fmt.Errorf("y360: %s %s: %w", method, path, err)
	}
	return nil
}

// decodeJSON decodes a success body, bounded to 16 MiB (admin answers are small).
func decodeJSON(resp *http.Response, out any) error {
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}
