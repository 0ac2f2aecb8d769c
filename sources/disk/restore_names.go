package disk

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Where a restore puts a file. Paths are Disk paths ("disk:/a/b.txt") all
// the way; the API is given them verbatim (URL-encoded by url.Values), so
// names with spaces, any Unicode, "..."-looking or 255-character names need
// no escaping of our own.

const (
	diskRoot    = "disk:/"
	maxNameLen  = 255 // characters per name (docs/yandex-api.md §3)
	maxCopyName = 100 // "(restored N)" names tried before giving up
)

// cleanUnder checks RestoreTarget.Under and returns it without surrounding
// slashes ("" = in place).
func cleanUnder(under string) (string, error) {
	under = strings.Trim(under, "/")
	if under == "" {
		return "", nil
	}
	for _, seg := range strings.Split(under, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", fmt.Errorf("restore folder %q: empty, \".\" or \"..\" name", under)
		case utf8.RuneCountInString(seg) > maxNameLen:
			return "", fmt.Errorf("restore folder %q: a name is longer than %d characters", under, maxNameLen)
		}
	}
	return under, nil
}

// destPath maps an item ID (its original Disk path) to where it is
// restored: the same path in place, "disk:/<under>/<path>" otherwise.
func destPath(id, under string) (string, error) {
	rel, ok := strings.CutPrefix(id, "disk:")
	if !ok && !strings.HasPrefix(id, "/") {
		return "", fmt.Errorf("item ID %q is not a Disk path", id)
	}
	rel = "/" + strings.TrimLeft(rel, "/")
	if rel == "/" {
		return "", fmt.Errorf("item ID %q names the Disk root, not a file", id)
	}
	if under == "" {
		return "disk:" + rel, nil
	}
	return "disk:/" + under + rel, nil
}

// parentDir is the folder holding p ("disk:/a/b.txt" → "disk:/a"; a file at
// the root → "disk:/").
func parentDir(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= len("disk:") {
		return diskRoot
	}
	return p[:i]
}

// copyName is the n-th "copy" name for p: "report (restored 2).pdf". The
// extension stays last so the file still opens with the same program; a
// name that is all extension (".bashrc") or dots ("...") gets the suffix at
// the end. The stem is shortened so the name stays within 255 characters.
func copyName(p string, n int) string {
	dir, name := path.Split(p)
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	if len(ext) < 2 || strings.Trim(stem, ".") == "" || strings.ContainsRune(ext, ' ') || len(ext) > 16 {
		stem, ext = name, ""
	}
	suffix := fmt.Sprintf(" (restored %d)", n)
	if over := utf8.RuneCountInString(stem+suffix+ext) - maxNameLen; over > 0 {
		r := []rune(stem)
		stem = string(r[:max(0, len(r)-over)])
	}
	return dir + stem + suffix + ext
}
