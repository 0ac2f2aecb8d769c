package mail

import (
	"path"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// folder is one selectable mailbox from LIST. name is decoded from modified
// UTF-7 by imapclient and used verbatim (with the server's delimiter) as the
// container name.
type folder struct {
	name  string
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

// listFolders runs LIST "" "*" and returns the selectable folders in server
// order.
func (s *session) listFolders() ([]folder, error) {
	s.dc.begin()
	defer s.dc.end()
	cmd := s.cl.List("", "*", nil)
	var out []folder
	for d := cmd.Next(); d != nil; d = cmd.Next() {
		f := folder{name: d.Mailbox, attrs: d.Attrs}
		if f.hasAttr(string(imap.MailboxAttrNoSelect)) || f.hasAttr(string(imap.MailboxAttrNonExistent)) {
			continue
		}
		out = append(out, f)
	}
	return out, s.check(cmd.Close())
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
