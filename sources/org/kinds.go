package org

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Container names, one per object kind, in the order a run backs them up.
const (
	KindUsers          = "users"
	KindDepartments    = "departments"
	KindGroups         = "groups"
	KindGroupMembers   = "group_members"
	KindDomains        = "domains"
	KindShared         = "shared_mailboxes"
	KindDelegated      = "delegated_mailboxes"
	KindActors         = "mailbox_actors"
	KindRoutingRules   = "routing_rules"
	KindUserRules      = "mail_user_rules"
	KindSenderInfo     = "mail_sender_info"
	KindServiceApps    = "service_applications"
	singleItemRules    = "rules"        // the one item of routing_rules
	singleItemServices = "applications" // the one item of service_applications
)

// Kinds lists every container name, in backup order.
func Kinds() []string {
	return []string{KindUsers, KindDepartments, KindGroups, KindGroupMembers, KindDomains, KindShared,
		KindDelegated, KindActors, KindRoutingRules, KindUserRules, KindSenderInfo, KindServiceApps}
}

// Scope is the admin-token scope reading kind needs (docs/org-api.md §2).
func Scope(kind string) string { return scopes[kind] }

var scopes = map[string]string{
	KindUsers:        "directory:read_users",
	KindDepartments:  "directory:read_departments",
	KindGroups:       "directory:read_groups",
	KindGroupMembers: "directory:read_groups",
	KindDomains:      "directory:read_domains",
	KindShared:       "ya360_admin:mail_read_shared_mailbox_inventory",
	KindDelegated:    "ya360_admin:mail_read_shared_mailbox_inventory",
	KindActors:       "ya360_admin:mail_read_shared_mailbox_inventory",
	KindRoutingRules: "ya360_admin:mail_read_routing_rules",
	KindUserRules:    "ya360_admin:mail_read_user_settings",
	KindSenderInfo:   "ya360_admin:mail_read_user_settings",
	KindServiceApps:  "ya360_security:service_applications_read",
}

// paths builds the API paths of one organization.
type paths struct{ org string }

func (p paths) dir(rest string) string   { return "/directory/v1/org/" + p.org + rest }
func (p paths) adm(rest string) string   { return "/admin/v1/org/" + p.org + rest }
func esc(id string) string               { return url.PathEscape(id) }
func (p paths) users() string            { return p.dir("/users") }
func (p paths) departments() string      { return p.dir("/departments") }
func (p paths) groups() string           { return p.dir("/groups") }
func (p paths) members(id string) string { return p.dir("/groups/" + esc(id) + "/members") }
func (p paths) domains() string          { return p.dir("/domains") }
func (p paths) shared() string           { return p.adm("/mailboxes/shared") }
func (p paths) sharedOne(id string) string {
	return p.adm("/mailboxes/shared/" + esc(id))
}
func (p paths) delegated() string       { return p.adm("/mailboxes/delegated") }
func (p paths) actors(id string) string { return p.adm("/mailboxes/actors/" + esc(id)) }
func (p paths) routingRules() string    { return p.adm("/mail/routing/rules") }
func (p paths) userRules(id string) string {
	return p.adm("/mail/users/" + esc(id) + "/settings/user_rules")
}
func (p paths) senderInfo(id string) string {
	return p.adm("/mail/users/" + esc(id) + "/settings/sender_info")
}
func (p paths) serviceApps() string { return "/security/v1/org/" + p.org + "/service_applications" }

// head holds the fields of a listed object the source needs: its key, a
// label for people, and for users what decides the mail report.
type head struct {
	ID         json.RawMessage `json:"id"`
	ResourceID json.RawMessage `json:"resourceId"`
	Name       json.RawMessage `json:"name"` // a string, or a user's {first,last,...}
	Email      string          `json:"email"`
	IsRobot    bool            `json:"isRobot"`
	IsEnabled  *bool           `json:"isEnabled"`
}

// idText renders a JSON id (a string or a number) as text; "" if neither.
func idText(raw json.RawMessage) string {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return ""
	}
	var s string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return ""
	}
	return n.String()
}

// nameText is the name when it is a JSON string ("" for a user's name object).
func nameText(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// maxIDLen bounds item IDs (they become index keys and export file names).
const maxIDLen = 512

// validID accepts any non-empty UTF-8 text without control characters:
// path characters are fine (IDs are JSON strings in the index; export
// sanitises file names), but an ID must not break a line of a CSV or a log.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
