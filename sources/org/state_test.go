package org_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources/org"
)

func mustAdd(t *testing.T, st *org.State, kind, id, raw string) {
	t.Helper()
	if err := st.Add(kind, id, []byte(raw)); err != nil {
		t.Fatalf("add %s %s: %v", kind, id, err)
	}
}

func TestAddRejectsBrokenJSON(t *testing.T) {
	st := org.NewState()
	for _, kind := range []string{org.KindUsers, org.KindDepartments, org.KindGroups, org.KindGroupMembers, org.KindRoutingRules} {
		err := st.Add(kind, "1", []byte(`{"id":"1","name":`))
		if err == nil || !strings.Contains(err.Error(), kind+" 1") {
			t.Errorf("%s: err = %v, want one naming the object", kind, err)
		}
	}
	if len(st.Users)+len(st.Departments)+len(st.Groups)+len(st.Members) != 0 || st.RoutingRules != nil {
		t.Errorf("broken objects changed the state: %+v", st)
	}
	// Kinds the state does not use are ignored, broken or not.
	if err := st.Add(org.KindDomains, "x", []byte(`{`)); err != nil {
		t.Errorf("unused kind: %v", err)
	}
}

func TestParseMembersBothShapes(t *testing.T) {
	cases := map[string]string{
		`{"users":[{"id":"2"},{"id":"1"}],"groups":[{"id":5}],"departments":[{"id":3}]}`:                                       "department 3,group 5,user 1,user 2",
		`{"members":[{"type":"user","id":"1"},{"type":"department","id":3},{"type":"group","id":"5"},{"type":"user","id":2}]}`: "department 3,group 5,user 1,user 2",
		`{}`: "",
	}
	for in, want := range cases {
		ms, err := org.ParseMembers([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Type+" "+m.ID)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %v, want %s", in, got, want)
		}
	}
}

func TestDiffGroupMembersFromGroupObjectWhenNoMembersAnswer(t *testing.T) {
	a, b := org.NewState(), org.NewState()
	mustAdd(t, a, org.KindUsers, "1", `{"id":"1","email":"a@x"}`)
	mustAdd(t, b, org.KindUsers, "1", `{"id":"1","email":"a@x"}`)
	mustAdd(t, a, org.KindGroups, "9", `{"id":9,"name":"G","members":[{"type":"user","id":"1"}]}`)
	mustAdd(t, b, org.KindGroups, "9", `{"id":9,"name":"G","members":[]}`)
	d := org.Diff(a, b)
	if len(d) != 1 || d[0].String() != `user a@x left group "G" (id 9)` {
		t.Errorf("diff = %v", d)
	}
}

func TestPlanNothingToDoAndHostileNames(t *testing.T) {
	st := org.NewState()
	mustAdd(t, st, org.KindDepartments, "1", `{"id":1,"name":"All"}`)
	var buf bytes.Buffer
	if err := org.Plan(&buf, st, st, org.PlanOptions{OrgID: "1"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Nothing to do") || strings.Contains(buf.String(), "call POST") {
		t.Errorf("plan of a state against itself:\n%s", buf.String())
	}
	// A group id with path and shell characters stays one escaped path segment.
	want, target := org.NewState(), org.NewState()
	mustAdd(t, want, org.KindUsers, "1", `{"id":"1","email":"a@x"}`)
	mustAdd(t, target, org.KindUsers, "1", `{"id":"1","email":"a@x"}`)
	for _, st := range []*org.State{want, target} {
		mustAdd(t, st, org.KindGroups, "../$(x)", `{"name":"g\nforged"}`)
	}
	mustAdd(t, want, org.KindGroupMembers, "../$(x)", `{"users":[{"id":"1"}]}`)
	buf.Reset()
	if err := org.Plan(&buf, want, target, org.PlanOptions{OrgID: "1"}); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.Contains(s, `/groups/..%2F%24%28x%29/members"`) {
		t.Errorf("group id not escaped:\n%s", s)
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "forged") {
			t.Errorf("a name forged a script line:\n%s", s)
		}
	}
}

func TestCSVRows(t *testing.T) {
	rows, err := org.CSVRows(org.KindUserRules, "7", []byte(`{"forwards":[{"ruleId":1,"address":"=cmd|x","withStore":true}],"autoreplies":[{"ruleId":2,"text":"away"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "7" || rows[0][1] != "forwards" || rows[0][4] != "'=cmd|x" || rows[0][5] != "true" || rows[1][6] != "away" {
		t.Errorf("rows = %q", rows)
	}
	if h := org.CSVHeader(org.KindUserRules); len(h) != len(rows[0]) {
		t.Errorf("header %v does not match rows", h)
	}
	rows, err = org.CSVRows(org.KindUsers, "1", []byte(`{"id":"1","name":{"first":"A"},"aliases":["x","y"],"contacts":[{"type":"email"}],"departmentId":1130000000000000001}`))
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][3] != "A" || rows[0][12] != "x;y" || !strings.HasPrefix(rows[0][14], `[{"type"`) || rows[0][6] != "1130000000000000001" {
		t.Errorf("user row = %q", rows[0])
	}
	if _, err := org.CSVRows(org.KindUsers, "1", []byte(`[1]`)); err == nil {
		t.Error("a non-object accepted")
	}
}

// FuzzState: any bytes as any kind never panic Add, CSVRows, Diff or Plan.
func FuzzState(f *testing.F) {
	f.Add(org.KindGroups, []byte(`{"id":1,"name":"g","members":[{"type":"user","id":"1"}],"adminIds":["1",2]}`))
	f.Add(org.KindGroupMembers, []byte(`{"users":[{"id":"1"}],"members":[{"type":"group","id":2}]}`))
	f.Add(org.KindUsers, []byte(`{"id":1e400,"departmentId":"x"}`))
	f.Add(org.KindDepartments, []byte(`{"id":2,"parentId":2,"name":"self-parent"}`))
	f.Add(org.KindRoutingRules, []byte(`{"rules":null}`))
	f.Add(org.KindActors, []byte(`{"actors":[{"actorId":"1","roles":["b","a"]},{"actorId":2,"roles":null}]}`))
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		a := org.NewState()
		_ = a.Add(kind, "1", raw)
		_ = a.Add(org.KindDepartments, "2", raw)
		_, _ = org.CSVRows(kind, "1", raw)
		_ = org.Diff(a, org.NewState())
		var buf bytes.Buffer
		if err := org.Plan(&buf, a, org.NewState(), org.PlanOptions{OrgID: "1"}); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(buf.String(), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "call") &&
				!strings.Contains(line, "=$(call") && !strings.HasPrefix(line, "set ") && !strings.HasPrefix(line, "API=") &&
				!strings.HasPrefix(line, "ORG_ID=") && !strings.HasPrefix(line, ": ") {
				t.Fatalf("unexpected script line %q", line)
			}
		}
	})
}
