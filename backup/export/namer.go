package export

import (
	"strconv"
	"strings"
)

// namer hands out output paths for containers (and their files) so that
// distinct originals never share one: segments are escaped reversibly
// (EscapeName), containers that share a parent in the original hierarchy
// share its directory, and whatever would still coincide, also on a
// case-insensitive filesystem (Q and q, two names cut to one hash, "a|b"
// split like "a/b"), gets "~N". It holds one entry per container path
// segment, not per item.
type namer struct {
	seg   map[string]string // parent path + "\x00" + original segment → its directory
	owned map[string]bool   // directories that are a container's own
	taken map[string]bool   // lower-cased paths handed out (directories and files)
}

func newNamer() *namer {
	return &namer{seg: map[string]string{}, owned: map[string]bool{}, taken: map[string]bool{}}
}

// dir returns the directory for the hierarchy parts under parent. Parents
// are shared ("A" and "A|B" nest as in the mailbox); the last part is the
// container's own, never a directory another container owns.
func (n *namer) dir(parent string, parts []string, reserved ...string) string {
	p := parent
	for i, part := range parts {
		last := i == len(parts)-1
		k := p + "\x00" + part
		d, ok := n.seg[k]
		if !ok || (last && n.owned[d]) {
			d = n.fresh(p, EscapeName(part, reserved...), "")
			if !ok {
				n.seg[k] = d
			}
		}
		if last {
			n.owned[d] = true
		}
		p = d
	}
	return p
}

// file returns a fresh path parent/base+ext.
func (n *namer) file(parent, base, ext string) string { return n.fresh(parent, base, ext) }

func (n *namer) fresh(parent, base, ext string) string {
	name := base + ext
	for i := 2; n.taken[strings.ToLower(parent+"/"+name)]; i++ {
		name = base + "~" + strconv.Itoa(i) + ext
	}
	p := parent + "/" + name
	n.taken[strings.ToLower(p)] = true
	return p
}
