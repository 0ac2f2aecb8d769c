package org

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// csvSpec says how a kind becomes CSV rows: one row per object, or one per
// element of the array at explode (members, actors, rules...). Columns are
// dotted JSON paths into the object (or the element when exploded); "@id"
// is the item's id. Scalars print as is, arrays of scalars joined by ";",
// anything else as compact JSON.
type csvSpec struct {
	explode []string // array keys whose elements each make a row, in order
	cols    []string
}

var csvSpecs = map[string]csvSpec{
	KindUsers: {cols: []string{"id", "nickname", "email", "name.first", "name.last", "name.middle", "departmentId", "position",
		"isAdmin", "isEnabled", "isRobot", "isDismissed", "aliases", "groups", "contacts", "externalId", "createdAt", "updatedAt"}},
	KindDepartments:  {cols: []string{"id", "name", "parentId", "label", "email", "headId", "membersCount", "description", "externalId"}},
	KindGroups:       {cols: []string{"id", "name", "type", "label", "email", "membersCount", "adminIds", "description", "externalId"}},
	KindGroupMembers: {explode: []string{"users", "groups", "departments", "members"}, cols: []string{"@id", "@array", "type", "id"}},
	KindDomains:      {cols: []string{"name", "master", "verified", "delegated", "mx", "country"}},
	KindShared:       {cols: []string{"id", "email", "name", "description", "createdAt", "updatedAt"}},
	KindDelegated:    {cols: []string{"@id", "resourceId", "count", "email"}},
	KindActors:       {explode: []string{"actors"}, cols: []string{"@id", "actorId", "roles"}},
	KindRoutingRules: {explode: []string{"rules"}, cols: []string{"terminal", "condition", "actions"}},
	KindUserRules:    {explode: []string{"forwards", "autoreplies"}, cols: []string{"@id", "@array", "ruleId", "ruleName", "address", "withStore", "text"}},
	KindSenderInfo:   {cols: []string{"@id", "fromName", "defaultFrom", "signPosition", "signs"}},
	KindServiceApps:  {explode: []string{"applications"}, cols: []string{"id", "scopes"}},
}

// CSVHeader is the header row of kind's CSV (nil for an unknown kind).
func CSVHeader(kind string) []string {
	spec, ok := csvSpecs[kind]
	if !ok {
		return nil
	}
	out := make([]string, len(spec.cols))
	for i, c := range spec.cols {
		switch c {
		case "@id":
			out[i] = "item_id"
		case "@array":
			out[i] = "list"
		default:
			out[i] = c
		}
	}
	return out
}

// CSVRows renders one stored object of kind as CSV rows. Cells that a
// spreadsheet would run as a formula (starting with = + - @) get a leading
// apostrophe; the JSON export keeps the exact values.
func CSVRows(kind, id string, raw []byte) ([][]string, error) {
	spec, ok := csvSpecs[kind]
	if !ok {
		return nil, fmt.Errorf("org: no CSV layout for %q", kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("org: %s %s: %w", kind, id, err)
	}
	if len(spec.explode) == 0 {
		return [][]string{row(spec.cols, id, "", obj)}, nil
	}
	var rows [][]string
	for _, key := range spec.explode {
		list, _ := obj[key].([]any)
		for _, el := range list {
			m, ok := el.(map[string]any)
			if !ok {
				m = map[string]any{"value": el}
			}
			rows = append(rows, row(spec.cols, id, key, m))
		}
	}
	return rows, nil
}

func row(cols []string, id, array string, obj map[string]any) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		switch c {
		case "@id":
			out[i] = id
		case "@array":
			out[i] = array
		default:
			out[i] = cell(lookup(obj, c))
		}
		out[i] = defuse(out[i])
	}
	return out
}

func lookup(obj map[string]any, path string) any {
	var cur any = obj
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []any:
		parts := make([]string, 0, len(x))
		for _, el := range x {
			switch el.(type) {
			case string, json.Number, bool:
				parts = append(parts, cell(el))
			default:
				b, _ := json.Marshal(x)
				return string(b)
			}
		}
		return strings.Join(parts, ";")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// defuse keeps spreadsheets from evaluating a cell as a formula.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
