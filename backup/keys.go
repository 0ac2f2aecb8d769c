package backup

import (
	"encoding/base32"
	"regexp"
	"strings"

	"github.com/y360backup/y360backup/backup/pack"
)

// Key prefixes of the repository layout (docs/repository.md).
const (
	configKey        = "repo.json"
	dataPrefix       = "data/"
	indexPrefix      = "index/"
	snapshotPrefix   = "snapshots/"
	checkpointPrefix = "checkpoints/"
)

func packKey(id pack.ID) string {
	s := id.String()
	return dataPrefix + s[:2] + "/" + s
}

var b32 = base32.HexEncoding.WithPadding(base32.NoPadding)

// containerKey maps a container name (any Unicode, any length, possibly
// hostile) to one stable key. Short names are encoded reversibly ("n" +
// lowercase base32hex); long ones are hashed ("h" + SHA-256).
func containerKey(name string) string {
	if len(name) <= 120 {
		return "n" + strings.ToLower(b32.EncodeToString([]byte(name)))
	}
	return "h" + sha256hex([]byte(name))
}

var safeSeg = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// userKey maps a Yandex uid to a key segment; uids are decimal strings, but a
// hostile or odd one is hashed rather than trusted.
func userKey(uid string) string {
	if safeSeg.MatchString(uid) {
		return uid
	}
	return "h" + sha256hex([]byte(uid))[:32]
}

// sourceKey does the same for a source name (sources are ours, but a key is
// never built from an unchecked string).
func sourceKey(src string) string { return userKey(src) }
