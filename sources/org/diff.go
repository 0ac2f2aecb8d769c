package org

import (
	"fmt"
	"io"
	"strings"
)

// Change is one difference between two states of the organization.
type Change struct {
	// Kind: "user", "department", "group" (the object itself),
	// "membership" (Who joined/left Where), "access" (Who gained/lost
	// access to a mailbox Where) or "rules" (the routing rules changed).
	Kind   string `json:"kind"`
	Action string `json:"action"` // added, removed, renamed, moved, joined, left
	// Where is the group or department concerned; Who the member or user.
	Where string `json:"where,omitempty"`
	Who   string `json:"who,omitempty"`
	// Detail says more (old → new name, old department).
	Detail string `json:"detail,omitempty"`
}

// String renders the change as one line.
func (c Change) String() string {
	var b strings.Builder
	switch c.Kind {
	case "membership", "access":
		fmt.Fprintf(&b, "%s %s %s", c.Who, c.Action, c.Where)
	default:
		fmt.Fprintf(&b, "%s %s", c.Where, c.Action)
		if c.Who != "" {
			b.WriteString(" " + c.Who)
		}
	}
	if c.Detail != "" {
		b.WriteString(" (" + c.Detail + ")")
	}
	return clean(b.String())
}

// clean replaces control characters so a hostile name cannot forge lines.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// Diff lists what changed from old to cur: users, departments and groups
// added or removed, renamed departments and groups, who joined or left
// which group (direct members of any type) or department (by the users'
// departmentId), who gained or lost access to which shared or delegated
// mailbox, and whether the routing rules changed. Changes come out grouped
// by kind, in id order.
func Diff(old, cur *State) []Change {
	var out []Change
	for _, id := range union(sortedKeys(old.Users), sortedKeys(cur.Users)) {
		o, inOld := old.Users[id]
		c, inCur := cur.Users[id]
		switch {
		case !inOld:
			out = append(out, Change{Kind: "user", Action: "added", Where: "user " + c.Email})
		case !inCur:
			out = append(out, Change{Kind: "user", Action: "removed", Where: "user " + o.Email})
		case o.DepartmentID != c.DepartmentID:
			who := "user " + c.Email
			out = append(out,
				Change{Kind: "membership", Action: "left", Who: who, Where: deptName(old, o.DepartmentID)},
				Change{Kind: "membership", Action: "joined", Who: who, Where: deptName(cur, c.DepartmentID)})
		}
	}
	for _, id := range union(sortedKeys(old.Departments), sortedKeys(cur.Departments)) {
		o, inOld := old.Departments[id]
		c, inCur := cur.Departments[id]
		out = appendObject(out, "department", id, o.Name, c.Name, inOld, inCur)
	}
	for _, id := range union(sortedKeys(old.Groups), sortedKeys(cur.Groups)) {
		o, inOld := old.Groups[id]
		c, inCur := cur.Groups[id]
		out = appendObject(out, "group", id, o.Name, c.Name, inOld, inCur)
		where := fmt.Sprintf("group %q (id %s)", c.Name, id)
		if !inCur {
			where = fmt.Sprintf("group %q (id %s)", o.Name, id)
		}
		was, now := memberSet(old.members(id)), memberSet(cur.members(id))
		for _, m := range old.members(id) {
			if !now[m] {
				out = append(out, Change{Kind: "membership", Action: "left", Who: nameIn(old, cur, m), Where: where})
			}
		}
		for _, m := range cur.members(id) {
			if !was[m] {
				out = append(out, Change{Kind: "membership", Action: "joined", Who: nameIn(cur, old, m), Where: where})
			}
		}
	}
	out = diffActors(out, old, cur)
	if old.RoutingRules != nil && cur.RoutingRules != nil && !jsonEqual(old.RoutingRules, cur.RoutingRules) {
		out = append(out, Change{Kind: "rules", Action: "changed", Where: "mail routing rules"})
	}
	return out
}

// diffActors lists who gained or lost access to a shared or delegated
// mailbox, or had their roles changed.
func diffActors(out []Change, old, cur *State) []Change {
	for _, box := range union(sortedKeys(old.Actors), sortedKeys(cur.Actors)) {
		where := "mailbox " + box
		if e := firstNonEmpty(cur.Mailboxes[box], old.Mailboxes[box]); e != "" {
			where = "mailbox " + e
		} else if u, ok := cur.Users[box]; ok {
			where = "mailbox " + u.Email
		}
		was, now := old.Actors[box], cur.Actors[box]
		if was == nil || now == nil {
			continue // a mailbox read in one state only: nothing to compare
		}
		for _, uid := range union(sortedKeys(was), sortedKeys(now)) {
			who := nameIn(cur, old, Member{Type: "user", ID: uid})
			r0, in0 := was[uid]
			r1, in1 := now[uid]
			switch {
			case !in0:
				out = append(out, Change{Kind: "access", Action: "gained access to", Who: who, Where: where, Detail: r1})
			case !in1:
				out = append(out, Change{Kind: "access", Action: "lost access to", Who: who, Where: where, Detail: r0})
			case r0 != r1:
				out = append(out, Change{Kind: "access", Action: "changed roles on", Who: who, Where: where, Detail: r0 + " → " + r1})
			}
		}
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func appendObject(out []Change, kind, id, oldName, newName string, inOld, inCur bool) []Change {
	switch {
	case !inOld:
		return append(out, Change{Kind: kind, Action: "added", Where: fmt.Sprintf("%s %q (id %s)", kind, newName, id)})
	case !inCur:
		return append(out, Change{Kind: kind, Action: "removed", Where: fmt.Sprintf("%s %q (id %s)", kind, oldName, id)})
	case oldName != newName:
		return append(out, Change{Kind: kind, Action: "renamed", Where: fmt.Sprintf("%s %q (id %s)", kind, newName, id),
			Detail: fmt.Sprintf("was %q", oldName)})
	}
	return out
}

// nameIn names m from the state that has it, else the other.
func nameIn(a, b *State, m Member) string {
	n := a.memberName(m)
	if n == m.Type+" "+m.ID {
		return b.memberName(m)
	}
	return n
}

func deptName(s *State, id string) string {
	if d, ok := s.Departments[id]; ok {
		return fmt.Sprintf("department %q (id %s)", d.Name, id)
	}
	return "department " + id
}

func memberSet(ms []Member) map[Member]bool {
	out := make(map[Member]bool, len(ms))
	for _, m := range ms {
		out[m] = true
	}
	return out
}

// union merges two sorted key lists without duplicates, in order.
func union(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, l := range [][]string{a, b} {
		for _, k := range l {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	m := make(map[string]struct{}, len(s))
	for _, k := range s {
		m[k] = struct{}{}
	}
	copy(s, sortedKeys(m))
}

// WriteDiff prints changes one per line (or a note that there are none).
func WriteDiff(w io.Writer, changes []Change) error {
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "no changes in users, departments, groups, memberships, mailbox access or routing rules")
		return err
	}
	for _, c := range changes {
		if _, err := fmt.Fprintln(w, c.String()); err != nil {
			return err
		}
	}
	return nil
}
