package org

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// State is an organization's structure as far as Diff and Plan need it,
// built from stored objects with Add. Its size follows the org's (users,
// groups, departments), not the history.
type State struct {
	Users       map[string]User
	Departments map[string]Department
	Groups      map[string]Group
	// Members by group id, from group_members (else the group's own list).
	Members map[string][]Member
	// RoutingRules is the routing_rules answer as stored (nil = not backed up).
	RoutingRules json.RawMessage
	// Actors: by mailbox resource id, each actor's uid → roles (sorted, joined by ",").
	Actors map[string]map[string]string
	// Mailboxes: shared mailbox resource id → email, for messages.
	Mailboxes map[string]string
}

// User is what State keeps of a user.
type User struct {
	ID, Email, Nickname string
	DepartmentID        string
}

// Department is what State keeps of a department.
type Department struct {
	ID, Name, ParentID, Label, Description string
}

// Group is what State keeps of a group.
type Group struct {
	ID, Name, Label, Description string
	AdminIDs                     []string
	listed                       []Member // members as the group object lists them
}

// Member is one member of a group: Type "user", "group" or "department".
type Member struct {
	Type, ID string
}

// NewState returns an empty State.
func NewState() *State {
	return &State{Users: map[string]User{}, Departments: map[string]Department{},
		Groups: map[string]Group{}, Members: map[string][]Member{},
		Actors: map[string]map[string]string{}, Mailboxes: map[string]string{}}
}

// Add parses one stored object of kind (a container name) with item id.
// Kinds State does not use are ignored. Broken JSON is an error naming the
// object; the State is unchanged then.
func (s *State) Add(kind, id string, raw []byte) error {
	var err error
	switch kind {
	case KindUsers:
		var u struct {
			ID           json.RawMessage `json:"id"`
			Email        string          `json:"email"`
			Nickname     string          `json:"nickname"`
			DepartmentID json.RawMessage `json:"departmentId"`
		}
		if err = json.Unmarshal(raw, &u); err == nil {
			s.Users[id] = User{ID: id, Email: u.Email, Nickname: u.Nickname, DepartmentID: idText(u.DepartmentID)}
		}
	case KindDepartments:
		var d struct {
			Name, Label, Description string
			ParentID                 json.RawMessage `json:"parentId"`
		}
		if err = json.Unmarshal(raw, &d); err == nil {
			s.Departments[id] = Department{ID: id, Name: d.Name, ParentID: idText(d.ParentID), Label: d.Label, Description: d.Description}
		}
	case KindGroups:
		var g struct {
			Name, Label, Description string
			AdminIDs                 []json.RawMessage `json:"adminIds"`
			Members                  []struct {
				Type string          `json:"type"`
				ID   json.RawMessage `json:"id"`
			} `json:"members"`
		}
		if err = json.Unmarshal(raw, &g); err == nil {
			grp := Group{ID: id, Name: g.Name, Label: g.Label, Description: g.Description}
			for _, a := range g.AdminIDs {
				grp.AdminIDs = append(grp.AdminIDs, idText(a))
			}
			for _, m := range g.Members {
				grp.listed = append(grp.listed, Member{Type: m.Type, ID: idText(m.ID)})
			}
			s.Groups[id] = grp
		}
	case KindGroupMembers:
		var ms []Member
		if ms, err = ParseMembers(raw); err == nil {
			s.Members[id] = ms
		}
	case KindActors:
		err = s.addActors(id, raw)
	case KindShared:
		var m struct{ Email string }
		if err = json.Unmarshal(raw, &m); err == nil {
			s.Mailboxes[id] = m.Email
		}
	case KindRoutingRules:
		if !json.Valid(raw) {
			err = fmt.Errorf("not valid JSON")
		} else {
			s.RoutingRules = append(json.RawMessage(nil), raw...)
		}
	}
	if err != nil {
		return fmt.Errorf("org: %s %s: %w", kind, id, err)
	}
	return nil
}

func (s *State) addActors(id string, raw []byte) error {
	var body struct {
		Actors []struct {
			ActorID json.RawMessage `json:"actorId"`
			Roles   []string        `json:"roles"`
		} `json:"actors"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return err
	}
	m := map[string]string{}
	for _, a := range body.Actors {
		roles := append([]string(nil), a.Roles...)
		sort.Strings(roles)
		m[idText(a.ActorID)] = strings.Join(roles, ",")
	}
	s.Actors[id] = m
	return nil
}

// ParseMembers reads a group-members answer in either shape seen:
// {"users":[{"id"}],"groups":[{"id"}],"departments":[{"id"}]} or
// {"members":[{"type","id"}]}. Members come out sorted.
func ParseMembers(raw []byte) ([]Member, error) {
	var body struct {
		Users       []struct{ ID json.RawMessage } `json:"users"`
		Groups      []struct{ ID json.RawMessage } `json:"groups"`
		Departments []struct{ ID json.RawMessage } `json:"departments"`
		Members     []struct {
			Type string          `json:"type"`
			ID   json.RawMessage `json:"id"`
		} `json:"members"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, err
	}
	out := []Member{}
	for _, x := range body.Users {
		out = append(out, Member{"user", idText(x.ID)})
	}
	for _, x := range body.Groups {
		out = append(out, Member{"group", idText(x.ID)})
	}
	for _, x := range body.Departments {
		out = append(out, Member{"department", idText(x.ID)})
	}
	for _, x := range body.Members {
		out = append(out, Member{x.Type, idText(x.ID)})
	}
	sortMembers(out)
	return out, nil
}

func sortMembers(ms []Member) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Type != ms[j].Type {
			return ms[i].Type < ms[j].Type
		}
		return ms[i].ID < ms[j].ID
	})
}

// members returns a group's members: the members answer, else the list in
// the group object itself.
func (s *State) members(gid string) []Member {
	if ms, ok := s.Members[gid]; ok {
		return ms
	}
	ms := append([]Member(nil), s.Groups[gid].listed...)
	sortMembers(ms)
	return ms
}

// memberName renders a member for people: a user's email, a group's or
// department's name, with the id.
func (s *State) memberName(m Member) string {
	switch m.Type {
	case "user":
		if u, ok := s.Users[m.ID]; ok && u.Email != "" {
			return "user " + u.Email
		}
	case "group":
		if g, ok := s.Groups[m.ID]; ok {
			return fmt.Sprintf("group %q (id %s)", g.Name, m.ID)
		}
	case "department":
		if d, ok := s.Departments[m.ID]; ok {
			return fmt.Sprintf("department %q (id %s)", d.Name, m.ID)
		}
	}
	return m.Type + " " + m.ID
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
	return out
}

// naturalLess orders decimal ids numerically, then other text.
func naturalLess(a, b string) bool {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) < len(b)
	}
	return a < b
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
