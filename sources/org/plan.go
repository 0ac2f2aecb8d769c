package org

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// PlanOptions say what a restore plan is for.
type PlanOptions struct {
	OrgID   string // the organization the calls go to
	APIBase string // default https://api360.yandex.net
	// Source and Target describe the two states for the script's header
	// ("snapshot 1a2b… (2026-12-01)", "the live organization").
	Source, Target string
}

// Plan writes, as a bash script for a person to review and run, the API
// calls that would bring back into target what want has and target lacks:
// missing departments (parents first), missing groups, missing direct
// memberships of groups, users' departments, users' roles on shared and
// delegated mailboxes, and the routing rules (one PUT that replaces the
// whole set, only when they differ). Nothing is called
// here. Users missing from target are listed in comments: recreating
// accounts is out of scope. Write paths and bodies follow Yandex's
// Directory and Mail admin API; those not confirmed in docs/org-api.md are
// marked UNCONFIRMED in the script.
func Plan(w io.Writer, want, target *State, opts PlanOptions) error {
	if opts.APIBase == "" {
		opts.APIBase = "https://api360.yandex.net"
	}
	p := &planner{want: want, target: target, vars: map[string]string{}, nonce: nonce()}
	p.header(opts)
	p.departments()
	p.groups()
	p.memberships()
	p.userDepartments()
	p.mailboxAccess()
	p.routingRules()
	p.missingUsers()
	if p.calls == 0 {
		p.line("# Nothing to do: every department, group, membership and rule of the backup exists.")
	}
	_, err := w.Write(p.buf.Bytes())
	return err
}

type planner struct {
	want, target *State
	buf          bytes.Buffer
	vars         map[string]string // "department 5" → shell variable holding its new id
	nonce        string
	calls        int
}

func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (p *planner) line(format string, args ...any) {
	fmt.Fprintf(&p.buf, format+"\n", args...)
}

// comment writes a comment line, control characters replaced.
func (p *planner) comment(format string, args ...any) {
	p.line("# %s", clean(fmt.Sprintf(format, args...)))
}

func (p *planner) header(o PlanOptions) {
	p.line("#!/usr/bin/env bash")
	p.comment("y360backup org plan-restore: API calls that would recreate what %s has and %s lacks.", o.Source, o.Target)
	p.comment("Generated for review: NOTHING has been executed. Read every call before running this script.")
	p.comment("Needs curl and jq, and an admin token with the directory:write_* and ya360_admin:mail_write_* scopes.")
	p.line("set -euo pipefail")
	p.line("API=${API:-%s}", shellQuote(o.APIBase))
	p.line("ORG_ID=%s", shellQuote(o.OrgID))
	p.line(`: "${Y360_ADMIN_TOKEN:?export Y360_ADMIN_TOKEN first}"`)
	p.line(`call() { curl -sS --fail-with-body -X "$1" "$API$2" -H "Authorization: OAuth $Y360_ADMIN_TOKEN" -H 'Content-Type: application/json' ${3:+--data-binary "$3"}; echo >&2; }`)
	p.line("")
}

// ref is a JSON value for an object id: the target's id as is, or a
// placeholder that becomes the shell variable of an object this script creates.
func (p *planner) ref(kind, id string) any {
	if v, ok := p.vars[kind+" "+id]; ok {
		return "@@" + p.nonce + ":" + v + "@@"
	}
	if kind != "user" && isDigits(id) {
		return json.Number(id) // department and group ids are JSON numbers; user ids strings
	}
	return id
}

// body renders v as a single-quoted shell word, placeholders turned into
// the shell variables (outside the quotes).
func (p *planner) body(v any) string {
	b, _ := json.Marshal(v)
	s := shellQuote(string(b))
	for _, name := range p.vars {
		s = strings.ReplaceAll(s, `"@@`+p.nonce+":"+name+`@@"`, `'"$`+name+`"'`)
	}
	return s
}

// call writes one API call. path is double-quoted so $ORG_ID and created
// objects' variables expand; every id in it went through pathEscape.
func (p *planner) call(assign, method, path string, body any) {
	p.calls++
	if assign != "" {
		p.line("%s=$(call %s \"%s\" %s | jq -r .id)", assign, method, path, p.body(body))
		return
	}
	p.line("call %s \"%s\" %s", method, path, p.body(body))
}

// departments creates missing ones, parents before children.
func (p *planner) departments() {
	done := map[string]bool{}
	var visit func(id string, depth int)
	visit = func(id string, depth int) {
		d, ok := p.want.Departments[id]
		if !ok || done[id] || depth > len(p.want.Departments) {
			return
		}
		done[id] = true
		if _, exists := p.target.Departments[id]; exists {
			return
		}
		if _, parentExists := p.target.Departments[d.ParentID]; !parentExists {
			visit(d.ParentID, depth+1)
		}
		v := p.varName("DEPT_", id)
		p.comment("department %q (was id %s, parent %s) is missing", d.Name, id, d.ParentID)
		body := map[string]any{"name": d.Name, "parentId": p.ref("department", d.ParentID), "label": d.Label, "description": d.Description}
		p.vars["department "+id] = v
		p.call(v, "POST", "/directory/v1/org/$ORG_ID/departments", body)
	}
	for _, id := range sortedKeys(p.want.Departments) {
		visit(id, 0)
	}
}

func (p *planner) groups() {
	for _, id := range sortedKeys(p.want.Groups) {
		if _, exists := p.target.Groups[id]; exists {
			continue
		}
		g := p.want.Groups[id]
		v := p.varName("GROUP_", id)
		p.comment("group %q (was id %s) is missing; its members follow", g.Name, id)
		p.vars["group "+id] = v
		admins := append([]string{}, g.AdminIDs...)
		p.call(v, "POST", "/directory/v1/org/$ORG_ID/groups",
			map[string]any{"name": g.Name, "label": g.Label, "description": g.Description, "adminIds": admins})
	}
}

// memberships adds every direct member want has and target lacks.
func (p *planner) memberships() {
	for _, gid := range sortedKeys(p.want.Groups) {
		have := memberSet(p.target.members(gid))
		if _, exists := p.target.Groups[gid]; !exists {
			have = map[Member]bool{}
		}
		for _, m := range p.want.members(gid) {
			if have[m] {
				continue
			}
			if m.Type == "user" {
				if _, ok := p.target.Users[m.ID]; !ok {
					p.comment("%s left the organization: not added back to group %q", p.want.memberName(m), p.want.Groups[gid].Name)
					continue
				}
			}
			p.comment("add %s to group %q", p.want.memberName(m), p.want.Groups[gid].Name)
			path := "/directory/v1/org/$ORG_ID/groups/" + p.pathRef("group", gid) + "/members"
			p.call("", "POST", path, map[string]any{"type": m.Type, "id": p.ref(m.Type, m.ID)})
		}
	}
}

// pathRef is an id for a URL path: the shell variable of a created object.
func (p *planner) pathRef(kind, id string) string {
	if v, ok := p.vars[kind+" "+id]; ok {
		return "$" + v
	}
	return pathEscape(id)
}

func (p *planner) userDepartments() {
	for _, uid := range sortedKeys(p.want.Users) {
		u, t := p.want.Users[uid], p.target.Users[uid]
		if t.ID == "" || u.DepartmentID == "" || u.DepartmentID == t.DepartmentID {
			continue
		}
		p.comment("user %s: back to %s (now in %s); path and body UNCONFIRMED", u.Email,
			deptName(p.want, u.DepartmentID), deptName(p.target, t.DepartmentID))
		p.call("", "PATCH", "/directory/v1/org/$ORG_ID/users/"+pathEscape(uid), map[string]any{"departmentId": p.ref("department", u.DepartmentID)})
	}
}

// mailboxAccess gives back each actor's roles on shared and delegated
// mailboxes that still exist (POST …/mailboxes/set/{id}?actorId=, [Y];
// asynchronous at Yandex: it answers a task to poll).
func (p *planner) mailboxAccess() {
	for _, box := range sortedKeys(p.want.Actors) {
		now, exists := p.target.Actors[box]
		if !exists {
			p.comment("mailbox %s is gone or unreadable now: its access list is not planned (recreating mailboxes is out of scope)", box)
			continue
		}
		for _, uid := range sortedKeys(p.want.Actors[box]) {
			roles := p.want.Actors[box][uid]
			if now[uid] == roles || roles == "" {
				continue
			}
			if _, ok := p.target.Users[uid]; !ok {
				continue
			}
			p.comment("%s: roles %s on mailbox %s (now %q); asynchronous: the answer names a task to poll",
				p.want.memberName(Member{Type: "user", ID: uid}), roles, box, now[uid])
			p.call("", "POST", "/admin/v1/org/$ORG_ID/mailboxes/set/"+pathEscape(box)+"?actorId="+pathEscape(uid),
				map[string]any{"roles": strings.Split(roles, ",")})
		}
	}
}

func (p *planner) routingRules() {
	if p.want.RoutingRules == nil || jsonEqual(p.want.RoutingRules, p.target.RoutingRules) {
		return
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(p.want.RoutingRules, &body) != nil || body["rules"] == nil {
		p.comment("the stored routing rules are not {\"rules\":[...]}: not planned")
		return
	}
	p.comment("routing rules differ: this PUT REPLACES THE WHOLE SET with the backup's")
	p.call("", "PUT", "/admin/v1/org/$ORG_ID/mail/routing/rules", map[string]json.RawMessage{"rules": body["rules"]})
}

func (p *planner) missingUsers() {
	for _, uid := range sortedKeys(p.want.Users) {
		if _, ok := p.target.Users[uid]; !ok {
			p.comment("user %s (id %s) is gone: recreating accounts is out of scope", p.want.Users[uid].Email, uid)
		}
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// shellQuote single-quotes s for bash.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// varName is the shell variable for a created object: prefix + a decimal
// id, or a counter for any other id (which could hold any character).
func (p *planner) varName(prefix, id string) string {
	if isDigits(id) && len(id) < 40 {
		return prefix + id
	}
	return fmt.Sprintf("%sX%d", prefix, len(p.vars))
}

// pathEscape percent-encodes every byte of id but [A-Za-z0-9._~-], so it
// adds no path segment and nothing the shell would expand inside "...".
func pathEscape(id string) string {
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("._~-", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
