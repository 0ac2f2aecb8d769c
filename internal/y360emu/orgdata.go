package y360emu

import "sort"

// OrgData is the emulated organization's structure beyond its user list:
// what sources/org backs up (docs/org-api.md §2). The zero value is an org
// with none of these objects.
type OrgData struct {
	Departments []Department
	Groups      []Group
	Domains     []Domain
	// UserDepartments gives a user's departmentId by uid (absent = 1, the
	// root "All employees" department every Yandex 360 org has).
	UserDepartments map[string]int
	Shared          []Mailbox // shared mailboxes
	Delegated       []Mailbox // users' mailboxes delegated to others
	// RoutingRules are the org's mail routing rules, each a JSON object
	// {terminal, condition, actions} served verbatim.
	RoutingRules []string
	UserRules    map[string]UserMailRules // by uid; absent = no forwards/autoreplies
	SenderInfo   map[string]SenderInfo    // by uid; absent = defaults from the profile
}

// Department is one Directory department.
type Department struct {
	ID          int
	Name        string
	ParentID    int // 0 for the root
	Description string
	Label       string // the mail list name (label@domain)
	HeadID      string // uid of the head, "" = none
}

// Member is one member of a group: Type "user" (ID a uid), "group" or
// "department" (ID their decimal id).
type Member struct {
	Type string
	ID   string
}

// Group is one Directory group.
type Group struct {
	ID          int
	Name        string
	Description string
	Label       string
	Members     []Member
	AdminIDs    []string
}

// Domain is one of the org's domains.
type Domain struct {
	Name     string
	Master   bool
	Verified bool
}

// Actor is one account with access to a shared or delegated mailbox.
type Actor struct {
	ActorID string   // uid
	Roles   []string // shared_mailbox_owner, _reader, _editor, _admin, _imap_admin, _sender, _half_sender
}

// Mailbox is a shared mailbox, or a user's mailbox delegated to others
// (then ID is the owner's uid).
type Mailbox struct {
	ID          string
	Email       string
	Name        string
	Description string
	Actors      []Actor
}

// Forward is one forwarding rule of a user.
type Forward struct {
	Address   string
	WithStore bool // keep a copy in the mailbox
}

// UserMailRules are a user's forwards and autoreplies.
type UserMailRules struct {
	Forwards    []Forward
	Autoreplies []string // autoreply texts
}

// SenderInfo is a user's sender name, default address and signature.
type SenderInfo struct {
	FromName    string
	DefaultFrom string
	Signature   string
}

// orgState holds the OrgData behind the server's lock (s.mu).
type orgState struct{ data OrgData }

// orgLocked returns the org state, creating it on first use; s.mu must be
// held (Server.extension takes the lock itself, so it cannot be used here).
func (s *Server) orgLocked() *orgState {
	v, ok := s.ext["org"].(*orgState)
	if !ok {
		v = &orgState{}
		s.ext["org"] = v
	}
	return v
}

// SetOrg replaces the organization's structure.
func (s *Server) SetOrg(d OrgData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orgLocked().data = d
}

// UpdateOrg edits the organization's structure in place, under the
// server's lock (fn must not call other Server methods).
func (s *Server) UpdateOrg(fn func(*OrgData)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.orgLocked().data)
}

// userDepartmentLocked is a user's departmentId; s.mu must be held.
func (s *Server) userDepartmentLocked(uid string) int {
	if d, ok := s.orgLocked().data.UserDepartments[uid]; ok {
		return d
	}
	return 1
}

// userGroupsLocked lists the ids of the groups that name uid directly; s.mu must be held.
func (s *Server) userGroupsLocked(uid string) []int {
	out := []int{}
	for _, g := range s.orgLocked().data.Groups {
		for _, m := range g.Members {
			if m.Type == "user" && m.ID == uid {
				out = append(out, g.ID)
				break
			}
		}
	}
	sort.Ints(out)
	return out
}

// DemoOrgData is the structure of the demo organization (DefaultOrg's
// users): three departments, two groups, a domain, a shared mailbox, a
// delegated one, a routing rule and some users' forwards and signatures.
func DemoOrgData() OrgData {
	uid := func(i int) string { return "113000000000000" + string(rune('1'+i)) }
	return OrgData{
		Departments: []Department{
			{ID: 1, Name: "All employees"},
			{ID: 2, Name: "Sales", ParentID: 1, Label: "sales-team", HeadID: uid(1)},
			{ID: 3, Name: "Engineering", ParentID: 1, Label: "eng", Description: "Builds things"},
		},
		UserDepartments: map[string]int{uid(1): 2, uid(2): 3, uid(3): 3},
		Groups: []Group{
			{ID: 1, Name: "Managers", Label: "managers", Members: []Member{{"user", uid(0)}, {"user", uid(1)}}, AdminIDs: []string{uid(0)}},
			{ID: 2, Name: "Engineers and sales", Members: []Member{{"department", "3"}, {"department", "2"}, {"group", "1"}}},
		},
		Domains: []Domain{{Name: DemoDomain, Master: true, Verified: true}},
		Shared: []Mailbox{{ID: "8000000000000001", Email: "support@" + DemoDomain, Name: "Support", Description: "Customer support",
			Actors: []Actor{{uid(0), []string{"shared_mailbox_owner"}}, {uid(1), []string{"shared_mailbox_reader", "shared_mailbox_sender"}}}}},
		Delegated: []Mailbox{{ID: uid(2), Email: "carol@" + DemoDomain, Name: "Carol Cooper",
			Actors: []Actor{{uid(3), []string{"shared_mailbox_editor"}}}}},
		RoutingRules: []string{
			`{"terminal":false,"condition":{"from":{"$eq":"billing@partner.example"}},"actions":[{"action":"forward","data":{"email":"accounts@demo.y360.test"}}]}`,
		},
		UserRules: map[string]UserMailRules{
			uid(0): {Forwards: []Forward{{Address: "archive@" + DemoDomain, WithStore: true}}, Autoreplies: []string{"I am on leave until Monday."}},
		},
		SenderInfo: map[string]SenderInfo{
			uid(0): {FromName: "Alice Archer", DefaultFrom: "alice@" + DemoDomain, Signature: "-- \nAlice, CEO"},
		},
	}
}
