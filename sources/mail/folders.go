package mail

import (
	"path"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// folder is one mailbox from LIST. name is decoded from modified UTF-7 (see
// decodeMailbox) and used verbatim (with the server's delimiter) as the
// container name; raw is the name as the server sent it.
type folder struct {
	name  string
	raw   string
	delim string // hierarchy delimiter; "" when the server sent NIL
	attrs []imap.MailboxAttr
}

func (f folder) hasAttr(a string) bool {
	for _, x := range f.attrs {
		if strings.EqualFold(string(x), a) {
			return true
		}
	}
	return false
}

// wanted applies IncludeFolders and ExcludeFolders (see Config).
func (c Config) wanted(f folder) bool {
	if len(c.IncludeFolders) > 0 && !matchAny(c.IncludeFolders, f) {
		return false
	}
	return !matchAny(c.ExcludeFolders, f)
}

func matchAny(patterns []string, f folder) bool {
	for _, p := range patterns {
		if strings.HasPrefix(p, `\`) {
			if f.hasAttr(p) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(p, f.name); ok {
			return true
		}
	}
	return false
}
