package y360emu

import (
	"net/http"
	"strings"
	"testing"
)

func TestOrgEndpoints(t *testing.T) {
	s, _ := testServer(t, nil)
	admin := "OAuth " + DemoAdminToken
	dir, adm := s.URL()+"/directory/v1/org/"+DemoOrgID, s.URL()+"/admin/v1/org/"+DemoOrgID
	tests := []struct {
		name, url, auth string
		status          int
		want            []string // substrings of the raw body
		notWant         []string
	}{
		{"departments page 2 of 2", dir + "/departments?page=2&perPage=2", admin, 200,
			[]string{`"departments":[{`, `"name":"Engineering"`, `"page":2`, `"pages":2`, `"perPage":2`, `"total":3`}, nil},
		{"past the end: empty page", dir + "/groups?page=999999999&perPage=1000", admin, 200, []string{`"groups":[]`, `"total":2`}, nil},
		{"bad perPage", dir + "/domains?perPage=0", admin, 400, []string{`"code":3`, `"details":[]`}, nil},
		{"group members by type", dir + "/groups/2/members", admin, 200,
			[]string{`"departments":[{"id":3},{"id":2}]`, `"groups":[{"id":1}]`, `"users":[]`}, nil},
		{"unknown group", dir + "/groups/99/members", admin, 404, []string{`"code":5`, `group not found`}, nil},
		{"shared list: no pages, default perPage 10", adm + "/mailboxes/shared", admin, 200,
			[]string{`"resources":[{"count":2,"resourceId":"8000000000000001"}]`, `"perPage":10`, `"total":1`}, []string{`"pages"`}},
		{"shared mailbox", adm + "/mailboxes/shared/8000000000000001", admin, 200, []string{`"email":"support@demo.y360.test"`, `"createdAt"`}, nil},
		{"actors of a delegated mailbox", adm + "/mailboxes/actors/1130000000000003", admin, 200,
			[]string{`"actors":[{"actorId":"1130000000000004","roles":["shared_mailbox_editor"]}]`}, nil},
		{"routing rules", adm + "/mail/routing/rules", admin, 200, []string{`"rules":[{"terminal":false`}, nil},
		{"user rules", adm + "/mail/users/1130000000000001/settings/user_rules", admin, 200,
			[]string{`"address":"archive@demo.y360.test"`, `"withStore":true`, `"autoreplies":[{`}, nil},
		{"sender info defaults", adm + "/mail/users/1130000000000002/settings/sender_info", admin, 200,
			[]string{`"fromName":"Bob Baker"`, `"defaultFrom":"bob@demo.y360.test"`, `"signs":[]`}, nil},
		{"unknown user", adm + "/mail/users/1/settings/user_rules", admin, 404, []string{`"code":5`}, nil},
		{"no token", dir + "/departments", "", 401, []string{`"code":16`}, nil},
		{"other org", s.URL() + "/directory/v1/org/1/departments", admin, 403, []string{`"code":7`, `Not an admin`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, http.MethodGet, tc.url, tc.auth, nil, "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.raw, w) {
					t.Errorf("body lacks %s:\n%s", w, r.raw)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(r.raw, w) {
					t.Errorf("body has %s:\n%s", w, r.raw)
				}
			}
		})
	}
}

func TestUsersCarryOrgMembership(t *testing.T) {
	s, _ := testServer(t, nil)
	r := call(t, http.MethodGet, s.URL()+"/directory/v1/org/"+DemoOrgID+"/users?perPage=3", "OAuth "+DemoAdminToken, nil, "")
	if !strings.Contains(r.raw, `"email":"alice@demo.y360.test","name"`) || !strings.Contains(r.raw, `"departmentId":2`) ||
		!strings.Contains(r.raw, `"groups":[1]`) {
		t.Errorf("users do not carry departments and groups from the org: %s", r.raw)
	}
}
