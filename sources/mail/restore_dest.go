package mail

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// The destination folder of a restore:
//   - in place: t.Original itself ("INBOX", "Archive|2017");
//   - non-destructive: t.Under, the server's delimiter, t.Original
//     ("Restored 2026-11-25 12h00|Archive|2017" at Yandex, "…/Archive/2017"
//     at a Dovecot with "/"; INBOX becomes "Restored …|INBOX").
//
// Names come from the backup decoded, with the delimiter of the server they
// were backed up from; a folder that exists is addressed by the exact name
// LIST gave (so a name Yandex sent in broken modified UTF-7 still matches),
// a new one is sent in modified UTF-7. Missing levels are created one at a
// time from the top, because servers differ in whether CREATE makes parents
// (RFC 3501 only says SHOULD) and a parent made implicitly may be \Noselect.
//
// Dovecot's Maildir++ layout refuses '.' in names, and the engine's
// "Restored 2006-01-02 15.04" has one: when the server refuses to create the
// Under folder and its name has a '.', it is created with ':' instead
// ("Restored 2026-11-25 12:00"); a rerun finds either form.

// delimiter is the hierarchy delimiter of the user's namespace ("" if flat).
func (c *wconn) delimiter() string {
	for _, f := range c.listed {
		if f.name == "INBOX" {
			return f.delim
		}
	}
	for _, f := range c.listed {
		if f.delim != "" {
			return f.delim
		}
	}
	return ""
}

// destination returns the wire name of the folder to restore into, creating
// what is missing.
func (rs *restorer) destination(c *wconn) (string, error) {
	orig := rs.t.Original
	if orig == "" {
		return "", errors.New("no folder name")
	}
	if rs.t.Under == "" && strings.EqualFold(orig, "INBOX") {
		return "INBOX", nil
	}
	delim := c.delimiter()
	var comps []string
	if rs.t.Under != "" {
		comps = append(comps, rs.t.Under)
	}
	if delim == "" {
		// A flat namespace cannot nest: one folder named after the path.
		if rs.t.Under != "" {
			comps = []string{rs.t.Under + "/" + orig}
		} else {
			comps = []string{orig}
		}
	} else {
		comps = append(comps, strings.Split(orig, delim)...)
	}
	known := make(map[string]folder, len(c.listed))
	for _, f := range c.listed {
		known[f.name] = f
	}

	var name, wire string
	for i, comp := range comps {
		last := i == len(comps)-1
		full, fullWire := comp, encodeMailbox(comp)
		if i > 0 {
			full, fullWire = name+delim+comp, wire+delim+encodeMailbox(comp)
		}
		if f, ok := known[full]; ok && (!last || isSelectable(f)) {
			name, wire = full, f.raw
			continue
		}
		alt := ""
		if i == 0 && rs.t.Under != "" && strings.Contains(comp, ".") {
			alt = strings.ReplaceAll(comp, ".", ":")
			if f, ok := known[alt]; ok && (!last || isSelectable(f)) {
				name, wire = alt, f.raw
				continue
			}
		}
		err := c.create(fullWire)
		var ie *imap.Error
		if err != nil && alt != "" && errors.As(err, &ie) {
			full, fullWire = alt, encodeMailbox(alt)
			err = c.create(fullWire)
		}
		if err != nil {
			return "", fmt.Errorf("CREATE %q: %w", full, err)
		}
		name, wire = full, fullWire
	}
	return wire, nil
}

func isSelectable(f folder) bool {
	return !f.hasAttr(string(imap.MailboxAttrNoSelect)) && !f.hasAttr(string(imap.MailboxAttrNonExistent))
}
