package org

import (
	"context"
	"encoding/json"
	"fmt"
)

// API is what the source needs from the Yandex 360 admin client
// (*y360.Client implements it): the org id, paged listings handed over
// element by element as raw bytes, and single GETs returning raw bytes.
type API interface {
	OrgID() string
	ListPages(ctx context.Context, path string, keys []string, perPage int, fn func(json.RawMessage) error) error
	GetRaw(ctx context.Context, path string) ([]byte, error)
}

// Config tunes the source. The zero value is usable; NewConfig gives the defaults.
type Config struct {
	// PerPage is the page size asked of paged listings (default 1000, the
	// largest known to work for the Directory; the server may serve fewer).
	PerPage int
	// SkipMailSettings turns off the per-user mail settings (forwards,
	// autoreplies, sender info): two API calls per user.
	SkipMailSettings bool
}

// NewConfig returns the defaults.
func NewConfig() Config { return Config{PerPage: 1000} }

// Validate checks the values.
func (c Config) Validate() error {
	if c.PerPage < 0 || c.PerPage > 1000 {
		return fmt.Errorf("org: per_page %d: use 1 to 1000 (0 = 1000)", c.PerPage)
	}
	return nil
}
