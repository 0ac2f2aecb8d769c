package main

import (
	"fmt"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources"
)

// mailSource is wired once sources/mail lands.
func mailSource(cfg *config.Config) (sources.Source, error) {
	return nil, fmt.Errorf("mail source not wired yet")
}
