package dav

import (
	"fmt"
	"path"
	"strings"
)

// Selected applies include/exclude globs to a collection, matched
// case-insensitively against its path segment and its display name: an
// exclusion wins, and no includes means all.
func Selected(include, exclude []string, segment, displayName string) bool {
	if matchAny(exclude, segment, displayName) {
		return false
	}
	return len(include) == 0 || matchAny(include, segment, displayName)
}

// CheckGlobs reports the first malformed glob, named for the config
// ("calendar: calendar glob", "contacts: book glob").
func CheckGlobs(what string, globs ...[]string) error {
	for _, gs := range globs {
		for _, g := range gs {
			if _, err := path.Match(g, ""); err != nil {
				return fmt.Errorf("%s %q: %w", what, g, err)
			}
		}
	}
	return nil
}

func matchAny(globs []string, names ...string) bool {
	for _, g := range globs {
		g = strings.ToLower(g)
		for _, n := range names {
			if n == "" {
				continue
			}
			if ok, _ := path.Match(g, strings.ToLower(n)); ok {
				return true
			}
		}
	}
	return false
}
