package config

import (
	"fmt"
	"strings"
)

func (c *Config) validateContacts(checkURL func(key, v string), checkGlobs func(key string, globs []string), bad func(key, msg string)) {
	ct := c.Sources.Contacts
	checkURL("sources.contacts.url", ct.URL)
	if ct.Auth != "basic" && ct.Auth != "oauth" {
		bad("sources.contacts.auth", fmt.Sprintf("%q: use basic (Yandex: email + token) or oauth", ct.Auth))
	}
	if ct.Listing != "propfind" && ct.Listing != "ls" {
		bad("sources.contacts.listing", fmt.Sprintf("%q: use propfind (standard) or ls (Yandex's ?op=ls)", ct.Listing))
	}
	if ct.Home != "discover" && !strings.HasPrefix(ct.Home, "/") {
		bad("sources.contacts.home", fmt.Sprintf("%q: use a path such as /addressbook/{email}/, or discover", ct.Home))
	}
	if ct.Listing == "ls" && ct.Home == "discover" {
		bad("sources.contacts.listing", "ls is Yandex's listing and needs home: /addressbook/{email}/, not discover")
	}
	if strings.TrimSpace(ct.Scope) == "" || strings.ContainsAny(ct.Scope, " \t") {
		bad("sources.contacts.scope", fmt.Sprintf("%q: one OAuth scope, e.g. addressbook:all", ct.Scope))
	}
	checkGlobs("sources.contacts.include_books", ct.IncludeBooks)
	checkGlobs("sources.contacts.exclude_books", ct.ExcludeBooks)
	if ct.MaxContactSize != "" {
		if _, err := ParseSize(ct.MaxContactSize); err != nil {
			bad("sources.contacts.max_contact_size", err.Error())
		}
	}
}
