package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/contacts"
)

// contactsConfig turns the config file's section into the source's Config.
func contactsConfig(in config.Contacts) (contacts.Config, error) {
	c := contacts.NewConfig()
	c.URL, c.Auth, c.Listing = in.URL, in.Auth, in.Listing
	c.IncludeBooks, c.ExcludeBooks = in.IncludeBooks, in.ExcludeBooks
	c.Home = in.Home
	if in.Home == "discover" {
		c.Home = ""
	}
	if in.MaxContactSize != "" {
		n, err := config.ParseSize(in.MaxContactSize)
		if err != nil {
			return c, fmt.Errorf("sources.contacts.max_contact_size: %w", err)
		}
		c.MaxContactSize = n
	}
	return c, c.Validate()
}

// probeContacts lists the test user's address books with the source's own
// discovery (doctor).
func probeContacts(ctx context.Context, cfg *config.Config, u sources.User, token string) (string, error) {
	c, err := contactsConfig(cfg.Sources.Contacts)
	if err != nil {
		return "", err
	}
	books, err := contacts.New(c, nil).Probe(ctx, u, fixedToken(token))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d address book(s) listed (%s)", len(books), strings.Join(books, ", ")), nil
}

// contactsFix is doctor's advice for a failed CardDAV probe.
func contactsFix(err error, cfg *config.Config) string {
	if errors.Is(err, sources.ErrUnauthorized) {
		return "the server refused the user's token: the service application needs scope " + cfg.Sources.Contacts.Scope +
			" (unconfirmed in Yandex's docs; if Yandex names another, set sources.contacts.scope and rerun setup)"
	}
	if errors.Is(err, sources.ErrNotFound) {
		return "wrong address: check sources.contacts.url and sources.contacts.home"
	}
	return "check sources.contacts.url and the network path to it"
}
