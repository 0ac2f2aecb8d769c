package y360emu

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// maxPerPage is the largest page the emulator serves (1000 works at Yandex).
const maxPerPage = 1000

func (s *Server) registerDirectory() {
	s.handle("GET /directory/v1/org/{orgId}/users", s.handleUsers)
}

// handleUsers implements GET /directory/v1/org/{orgId}/users?page=&perPage=
// with the recorded response shape: {"users":[...],"page","pages","perPage","total"}.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	if !s.adminAuth(w, r) {
		return
	}
	if r.PathValue("orgId") != s.opts.OrgID {
		writeAPI360Error(w, http.StatusForbidden, grpcPermissionDenied, "Not an admin")
		return
	}
	page, ok1 := intParam(r, "page", 1)
	perPage, ok2 := intParam(r, "perPage", s.opts.DefaultPerPage)
	if !ok1 || !ok2 || page < 1 || perPage < 1 {
		writeAPI360Error(w, http.StatusBadRequest, grpcInvalidArgument, "invalid page or perPage")
		return
	}
	if perPage > maxPerPage {
		perPage = maxPerPage
	}

	s.mu.Lock()
	total := len(s.users)
	var users []wireUser
	if from := (page - 1) * perPage; from < total {
		to := min(from+perPage, total)
		for _, u := range s.users[from:to] {
			users = append(users, s.wireUser(u))
		}
	}
	s.mu.Unlock()

	pages := (total + perPage - 1) / perPage
	if users == nil {
		users = []wireUser{}
	}
	w.Header().Set("X-Request-Id", strconv.FormatInt(s.now().UnixNano(), 36))
	writeJSON(w, http.StatusOK, map[string]any{
		"users": users, "page": page, "pages": pages, "perPage": perPage, "total": total,
	})
}

func intParam(r *http.Request, name string, def int) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// wireUser is a Directory user object with every field the real API
// returns (values invented but of the right types).
type wireUser struct {
	ID           json.RawMessage `json:"id"` // "123" or 123 (Options.IDsAsNumbers)
	Nickname     string          `json:"nickname"`
	DepartmentID int             `json:"departmentId"`
	Email        string          `json:"email"`
	Name         wireName        `json:"name"`
	Gender       string          `json:"gender"`
	Position     string          `json:"position"`
	AvatarID     string          `json:"avatarId"`
	About        string          `json:"about"`
	Birthday     string          `json:"birthday"`
	Contacts     []wireContact   `json:"contacts"`
	Aliases      []string        `json:"aliases"`
	Groups       []int           `json:"groups"`
	ExternalID   string          `json:"externalId"`
	IsAdmin      bool            `json:"isAdmin"`
	IsRobot      bool            `json:"isRobot"`
	IsDismissed  bool            `json:"isDismissed"`
	IsEnabled    bool            `json:"isEnabled"`
	Timezone     string          `json:"timezone"`
	Language     string          `json:"language"`
	CreatedAt    string          `json:"createdAt"`
	UpdatedAt    string          `json:"updatedAt"`
}

type wireName struct {
	First  string `json:"first"`
	Last   string `json:"last"`
	Middle string `json:"middle"`
}

type wireContact struct {
	Type      string `json:"type"`
	Value     string `json:"value"`
	Main      bool   `json:"main"`
	Alias     bool   `json:"alias"`
	Synthetic bool   `json:"synthetic"`
}

func (s *Server) wireUser(u *User) wireUser {
	id := strconv.Quote(u.ID)
	if s.opts.IDsAsNumbers {
		id = u.ID
	}
	created := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	return wireUser{
		ID: json.RawMessage(id), Nickname: u.Nickname, DepartmentID: s.userDepartmentLocked(u.ID), Email: u.Email,
		Name:     wireName{First: u.First, Last: u.Last},
		Contacts: []wireContact{{Type: "email", Value: u.Email, Main: true, Synthetic: true}},
		Aliases:  []string{}, Groups: s.userGroupsLocked(u.ID),
		IsAdmin: u.Admin, IsRobot: u.Robot, IsEnabled: !u.Blocked,
		Timezone: "Europe/Moscow", Language: "ru", CreatedAt: created, UpdatedAt: created,
	}
}
