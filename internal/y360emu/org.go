package y360emu

import (
	"fmt"
	"strconv"
)

// Demo organization constants, used as defaults by New and by DefaultOrg.
// They are test credentials of the emulator only, not secrets.
const (
	DemoOrgID        = "7700001"
	DemoDomain       = "demo.y360.test"
	DemoAdminToken   = "y360emu-admin-token"
	DemoClientID     = "y360emu-client-id"
	DemoClientSecret = "y360emu-client-secret"
)

// User is one member of the emulated organization.
type User struct {
	ID       string // uid, decimal ("1130000000000001")
	Email    string // primary email
	Nickname string
	First    string
	Last     string
	Blocked  bool // isEnabled=false; token exchange is refused, old tokens stop validating
	Robot    bool // isRobot=true
	Admin    bool // isAdmin (informational)
	// Scopes, if not nil, are the scopes this user's tokens get instead of the
	// service application's (e.g. to test a missing scope for one user).
	Scopes []string
}

// DefaultOrg returns Options for a small demo organization: six enabled
// users (alice, bob, carol, dave, eve, frank @demo.y360.test), one blocked
// user (mallory) and one robot, with the Demo* credentials.
func DefaultOrg() Options {
	users := []User{
		{First: "Alice", Last: "Archer", Admin: true},
		{First: "Bob", Last: "Baker"},
		{First: "Carol", Last: "Cooper"},
		{First: "Dave", Last: "Dalton"},
		{First: "Eve", Last: "Evans"},
		{First: "Frank", Last: "Fisher"},
		{First: "Mallory", Last: "Moss", Blocked: true},
	}
	for i := range users {
		nick := lower(users[i].First)
		users[i].ID = strconv.FormatInt(1130000000000001+int64(i), 10)
		users[i].Nickname = nick
		users[i].Email = nick + "@" + DemoDomain
	}
	users = append(users, User{
		ID: "780891246", Nickname: "yndx-forms-cnt-robot", Email: "yndx-forms-cnt-robot@" + DemoDomain,
		First: "Forms", Last: "Robot", Robot: true,
	})
	org := DemoOrgData()
	return Options{
		OrgID:        DemoOrgID,
		AdminToken:   DemoAdminToken,
		ClientID:     DemoClientID,
		ClientSecret: DemoClientSecret,
		Users:        users,
		Org:          &org,
	}
}

// GenerateUsers returns n enabled users user00001@domain… with uids from
// 1130000000100001 upwards, for paging and load tests.
func GenerateUsers(n int, domain string) []User {
	out := make([]User, n)
	for i := range out {
		nick := fmt.Sprintf("user%05d", i+1)
		out[i] = User{
			ID: strconv.FormatInt(1130000000100001+int64(i), 10), Email: nick + "@" + domain,
			Nickname: nick, First: "User", Last: strconv.Itoa(i + 1),
		}
	}
	return out
}

// AddUsers appends users to the directory (a user with a known uid replaces it).
func (s *Server) AddUsers(users ...User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		u := u
		if u.Scopes != nil { // copy, keeping nil ("app scopes") apart from empty ("none")
			u.Scopes = append([]string{}, u.Scopes...)
		}
		if old, ok := s.byID[u.ID]; ok {
			delete(s.byEmail, lower(old.Email))
			*old = u
			s.byEmail[lower(u.Email)] = old
			continue
		}
		p := &u
		s.users = append(s.users, p)
		s.byID[u.ID] = p
		s.byEmail[lower(u.Email)] = p
	}
}

// SetBlocked blocks or unblocks the user with this uid or email.
func (s *Server) SetBlocked(idOrEmail string, blocked bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupLocked(idOrEmail)
	if u == nil {
		return fmt.Errorf("y360emu: no user %q", idOrEmail)
	}
	u.Blocked = blocked
	return nil
}

// Users returns a copy of the directory in listing order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, len(s.users))
	for i, u := range s.users {
		out[i] = *u
	}
	return out
}

// User returns the user with this uid or email.
func (s *Server) User(idOrEmail string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookupLocked(idOrEmail); u != nil {
		return *u, true
	}
	return User{}, false
}

func (s *Server) lookupLocked(idOrEmail string) *User {
	if u, ok := s.byID[idOrEmail]; ok {
		return u
	}
	return s.byEmail[lower(idOrEmail)]
}
