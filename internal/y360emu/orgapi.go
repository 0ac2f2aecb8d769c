package y360emu

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Read endpoints of the organization's objects (docs/org-api.md §2):
// departments, groups and their members, domains (Directory API), shared
// and delegated mailboxes with their actors, routing rules and users' mail
// settings (admin API). Paged lists take page (from 1) and perPage and answer
// the recorded envelope {"<kind>":[...],"page","pages","perPage","total"};
// the mailbox lists answer {"resources":[...],"page","perPage","total"}
// (no "pages", default perPage 10, as documented). Errors use the api360
// body {"code","message","details"}.
func (s *Server) registerOrg() {
	dir := "/directory/v1/org/{orgId}"
	s.handle("GET "+dir+"/departments", s.handleDepartments)
	s.handle("GET "+dir+"/groups", s.handleGroups)
	s.handle("GET "+dir+"/groups/{groupId}/members", s.handleGroupMembers)
	s.handle("GET "+dir+"/domains", s.handleDomains)
	adm := "/admin/v1/org/{orgId}"
	s.handle("GET "+adm+"/mail/routing/rules", s.handleRoutingRules)
	s.handle("GET "+adm+"/mail/users/{userId}/settings/user_rules", s.handleUserRules)
	s.handle("GET "+adm+"/mail/users/{userId}/settings/sender_info", s.handleSenderInfo)
	s.handle("GET "+adm+"/mailboxes/shared", s.mailboxList(func(d *OrgData) []Mailbox { return d.Shared }))
	s.handle("GET "+adm+"/mailboxes/shared/{resourceId}", s.handleSharedMailbox)
	s.handle("GET "+adm+"/mailboxes/delegated", s.mailboxList(func(d *OrgData) []Mailbox { return d.Delegated }))
	s.handle("GET "+adm+"/mailboxes/actors/{resourceId}", s.handleActors)
}

// orgAdmin checks the admin token and the org id of an org-object request.
func (s *Server) orgAdmin(w http.ResponseWriter, r *http.Request) bool {
	if !s.adminAuth(w, r) {
		return false
	}
	if r.PathValue("orgId") != s.opts.OrgID {
		writeAPI360Error(w, http.StatusForbidden, grpcPermissionDenied, "Not an admin")
		return false
	}
	return true
}

// pageWindow parses page/perPage (400 on bad values, perPage capped at
// maxPerPage) and returns the slice bounds of that page in total elements.
func pageWindow(w http.ResponseWriter, r *http.Request, total, defPerPage int) (from, to, page, perPage int, ok bool) {
	page, ok1 := intParam(r, "page", 1)
	perPage, ok2 := intParam(r, "perPage", defPerPage)
	if !ok1 || !ok2 || page < 1 || perPage < 1 {
		writeAPI360Error(w, http.StatusBadRequest, grpcInvalidArgument, "invalid page or perPage")
		return 0, 0, 0, 0, false
	}
	perPage = min(perPage, maxPerPage)
	from = min((page-1)*perPage, total)
	if page-1 > total/perPage { // avoid overflow on huge page numbers
		from = total
	}
	return from, min(from+perPage, total), page, perPage, true
}

// writePage answers one page of a Directory listing under key.
func writePage[T any](w http.ResponseWriter, r *http.Request, key string, all []T, defPerPage int) {
	from, to, page, perPage, ok := pageWindow(w, r, len(all), defPerPage)
	if !ok {
		return
	}
	items := append([]T{}, all[from:to]...)
	pages := (len(all) + perPage - 1) / perPage
	writeJSON(w, http.StatusOK, map[string]any{key: items, "page": page, "pages": pages, "perPage": perPage, "total": len(all)})
}

var orgCreated = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)

func (s *Server) handleDepartments(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	var out []map[string]any
	for _, d := range s.orgLocked().data.Departments {
		count := 0
		for _, u := range s.users {
			if s.userDepartmentLocked(u.ID) == d.ID {
				count++
			}
		}
		out = append(out, map[string]any{
			"id": d.ID, "name": d.Name, "parentId": d.ParentID, "description": d.Description,
			"externalId": "", "label": d.Label, "email": labelEmail(d.Label), "aliases": []string{},
			"headId": d.HeadID, "membersCount": count, "createdAt": orgCreated,
		})
	}
	s.mu.Unlock()
	writePage(w, r, "departments", out, s.opts.DefaultPerPage)
}

func labelEmail(label string) string {
	if label == "" {
		return ""
	}
	return label + "@" + DemoDomain
}

func (s *Server) handleGroups(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	var out []map[string]any
	for _, g := range s.orgLocked().data.Groups {
		members := []map[string]string{}
		for _, m := range g.Members {
			members = append(members, map[string]string{"type": m.Type, "id": m.ID})
		}
		out = append(out, map[string]any{
			"id": g.ID, "name": g.Name, "type": "generic", "description": g.Description,
			"label": g.Label, "email": labelEmail(g.Label), "aliases": []string{}, "externalId": "",
			"removed": false, "members": members, "adminIds": append([]string{}, g.AdminIDs...),
			"authorId": "", "membersCount": len(g.Members), "createdAt": orgCreated,
		})
	}
	s.mu.Unlock()
	writePage(w, r, "groups", out, s.opts.DefaultPerPage)
}

// handleGroupMembers answers {"users":[{"id"}],"groups":[{"id"}],"departments":[{"id"}]}
// (the member lists by type; the exact shape is UNCONFIRMED, see docs/org.md).
func (s *Server) handleGroupMembers(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	id, err := strconv.Atoi(r.PathValue("groupId"))
	s.mu.Lock()
	var g *Group
	for i, x := range s.orgLocked().data.Groups {
		if err == nil && x.ID == id {
			g = &s.orgLocked().data.Groups[i]
		}
	}
	body := map[string][]map[string]any{"users": {}, "groups": {}, "departments": {}}
	if g != nil {
		for _, m := range g.Members {
			var v any = m.ID
			if m.Type != "user" {
				n, _ := strconv.Atoi(m.ID)
				v = n
			}
			body[m.Type+"s"] = append(body[m.Type+"s"], map[string]any{"id": v})
		}
	}
	s.mu.Unlock()
	if g == nil {
		writeAPI360Error(w, http.StatusNotFound, grpcNotFound, "group not found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleDomains(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	var out []map[string]any
	for _, d := range s.orgLocked().data.Domains {
		out = append(out, map[string]any{
			"name": d.Name, "country": "ru", "master": d.Master, "verified": d.Verified,
			"delegated": false, "mx": d.Verified,
		})
	}
	s.mu.Unlock()
	writePage(w, r, "domains", out, s.opts.DefaultPerPage)
}

func (s *Server) handleRoutingRules(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	rules := []json.RawMessage{}
	for _, x := range s.orgLocked().data.RoutingRules {
		rules = append(rules, json.RawMessage(x))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"rules": rules})
}

// mailUserLocked resolves {userId} of a mail-settings request; s.mu must be held.
func (s *Server) mailUserLocked(r *http.Request) (*User, bool) {
	u := s.byID[r.PathValue("userId")]
	if u == nil {
		return nil, false
	}
	return u, true
}

func (s *Server) handleUserRules(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	u, ok := s.mailUserLocked(r)
	var rules UserMailRules
	if ok {
		rules = s.orgLocked().data.UserRules[u.ID]
	}
	s.mu.Unlock()
	if !ok {
		writeAPI360Error(w, http.StatusNotFound, grpcNotFound, "user not found")
		return
	}
	fw := []map[string]any{}
	for i, f := range rules.Forwards {
		fw = append(fw, map[string]any{"ruleId": i + 1, "ruleName": "forward " + f.Address, "address": f.Address, "withStore": f.WithStore})
	}
	ar := []map[string]any{}
	for i, t := range rules.Autoreplies {
		ar = append(ar, map[string]any{"ruleId": 100 + i, "ruleName": "autoreply", "text": t})
	}
	writeJSON(w, http.StatusOK, map[string]any{"autoreplies": ar, "forwards": fw})
}

func (s *Server) handleSenderInfo(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	u, ok := s.mailUserLocked(r)
	var si SenderInfo
	var email, name string
	if ok {
		si, email, name = s.orgLocked().data.SenderInfo[u.ID], u.Email, u.First+" "+u.Last
	}
	s.mu.Unlock()
	if !ok {
		writeAPI360Error(w, http.StatusNotFound, grpcNotFound, "user not found")
		return
	}
	if si.FromName == "" {
		si.FromName = name
	}
	if si.DefaultFrom == "" {
		si.DefaultFrom = email
	}
	signs := []map[string]any{}
	if si.Signature != "" {
		signs = append(signs, map[string]any{"emails": []string{si.DefaultFrom}, "isDefault": true, "lang": "ru", "text": si.Signature})
	}
	writeJSON(w, http.StatusOK, map[string]any{"defaultFrom": si.DefaultFrom, "fromName": si.FromName, "signPosition": "bottom", "signs": signs})
}

// mailboxList answers GET .../mailboxes/shared|delegated?page&perPage:
// {"resources":[{"resourceId","count"}],"page","perPage","total"}.
func (s *Server) mailboxList(pick func(*OrgData) []Mailbox) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.orgAdmin(w, r) {
			return
		}
		s.mu.Lock()
		var all []map[string]any
		for _, m := range pick(&s.orgLocked().data) {
			all = append(all, map[string]any{"resourceId": m.ID, "count": len(m.Actors)})
		}
		s.mu.Unlock()
		from, to, page, perPage, ok := pageWindow(w, r, len(all), 10)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"resources": append([]map[string]any{}, all[from:to]...),
			"page": page, "perPage": perPage, "total": len(all)})
	}
}

// findMailboxLocked finds a shared (or, if delegated too, delegated) mailbox.
func (s *Server) findMailboxLocked(id string, delegated bool) *Mailbox {
	d := &s.orgLocked().data
	lists := [][]Mailbox{d.Shared}
	if delegated {
		lists = append(lists, d.Delegated)
	}
	for _, l := range lists {
		for i := range l {
			if l[i].ID == id {
				return &l[i]
			}
		}
	}
	return nil
}

func (s *Server) handleSharedMailbox(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	var body map[string]any
	if m := s.findMailboxLocked(r.PathValue("resourceId"), false); m != nil {
		body = map[string]any{"id": m.ID, "email": m.Email, "name": m.Name, "description": m.Description,
			"createdAt": orgCreated, "updatedAt": orgCreated}
	}
	s.mu.Unlock()
	if body == nil {
		writeAPI360Error(w, http.StatusNotFound, grpcNotFound, "resource not found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleActors(w http.ResponseWriter, r *http.Request) {
	if !s.orgAdmin(w, r) {
		return
	}
	s.mu.Lock()
	var actors []map[string]any
	m := s.findMailboxLocked(r.PathValue("resourceId"), true)
	if m != nil {
		actors = []map[string]any{}
		for _, a := range m.Actors {
			actors = append(actors, map[string]any{"actorId": a.ActorID, "roles": append([]string{}, a.Roles...)})
		}
	}
	s.mu.Unlock()
	if m == nil {
		writeAPI360Error(w, http.StatusNotFound, grpcNotFound, "resource not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"actors": actors})
}
