package y360emu

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func usersURL(s *Server, org string, q string) string {
	return s.URL() + "/directory/v1/org/" + org + "/users" + q
}

func TestDirectoryPaging(t *testing.T) {
	s, _ := testServer(t, func(o *Options) { o.Users = GenerateUsers(2500, "big.test") })
	seen := map[string]bool{}
	for page := 1; page <= 3; page++ {
		r := call(t, "GET", usersURL(s, DemoOrgID, fmt.Sprintf("?page=%d&perPage=1000", page)), "OAuth "+DemoAdminToken, nil, "")
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", page, r.status, r.raw)
		}
		if r.body["pages"] != float64(3) || r.body["total"] != float64(2500) || r.body["page"] != float64(page) || r.body["perPage"] != float64(1000) {
			t.Errorf("page %d envelope: pages=%v total=%v page=%v perPage=%v", page, r.body["pages"], r.body["total"], r.body["page"], r.body["perPage"])
		}
		users := r.body["users"].([]any)
		want := map[int]int{1: 1000, 2: 1000, 3: 500}[page]
		if len(users) != want {
			t.Errorf("page %d: %d users, want %d", page, len(users), want)
		}
		for _, u := range users {
			id, isString := u.(map[string]any)["id"].(string)
			if !isString {
				t.Fatalf("id is not a JSON string: %v", u.(map[string]any)["id"])
			}
			seen[id] = true
		}
	}
	if len(seen) != 2500 {
		t.Errorf("%d distinct users over 3 pages", len(seen))
	}
	// Past the end: empty list, same envelope.
	r := call(t, "GET", usersURL(s, DemoOrgID, "?page=4&perPage=1000"), "OAuth "+DemoAdminToken, nil, "")
	if users := r.body["users"].([]any); len(users) != 0 {
		t.Errorf("page 4 has %d users", len(users))
	}
	// perPage above 1000 is clamped; no params means page 1 of 10.
	r = call(t, "GET", usersURL(s, DemoOrgID, "?perPage=5000"), "OAuth "+DemoAdminToken, nil, "")
	if r.body["perPage"] != float64(1000) {
		t.Errorf("perPage=5000 → %v", r.body["perPage"])
	}
	r = call(t, "GET", usersURL(s, DemoOrgID, ""), "OAuth "+DemoAdminToken, nil, "")
	if r.body["perPage"] != float64(10) || r.body["pages"] != float64(250) || len(r.body["users"].([]any)) != 10 {
		t.Errorf("defaults: perPage=%v pages=%v", r.body["perPage"], r.body["pages"])
	}
}

func TestDirectoryUserShape(t *testing.T) {
	for _, numeric := range []bool{false, true} {
		t.Run(fmt.Sprintf("numeric=%v", numeric), func(t *testing.T) {
			s, _ := testServer(t, func(o *Options) { o.IDsAsNumbers = numeric })
			r := call(t, "GET", usersURL(s, DemoOrgID, "?perPage=100"), "OAuth "+DemoAdminToken, nil, "")
			var page struct {
				Users []map[string]json.RawMessage `json:"users"`
			}
			if err := json.Unmarshal([]byte(r.raw), &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Users) != 8 {
				t.Fatalf("%d users", len(page.Users))
			}
			first := page.Users[0]
			wantID := `"1130000000000001"`
			if numeric {
				wantID = `1130000000000001`
			}
			if string(first["id"]) != wantID {
				t.Errorf("id %s, want %s", first["id"], wantID)
			}
			for _, k := range []string{"nickname", "departmentId", "email", "name", "gender", "position", "avatarId", "about",
				"birthday", "contacts", "aliases", "groups", "externalId", "isAdmin", "isRobot", "isDismissed", "isEnabled",
				"timezone", "language", "createdAt", "updatedAt"} {
				if _, ok := first[k]; !ok {
					t.Errorf("user lacks %q", k)
				}
			}
			flags := map[string]string{}
			for _, u := range page.Users {
				var email string
				_ = json.Unmarshal(u["email"], &email)
				flags[email] = string(u["isEnabled"]) + "/" + string(u["isRobot"])
			}
			if flags["mallory@demo.y360.test"] != "false/false" || flags["yndx-forms-cnt-robot@demo.y360.test"] != "true/true" ||
				flags["alice@demo.y360.test"] != "true/false" {
				t.Errorf("flags %v", flags)
			}
		})
	}
}

func TestDirectoryAuth(t *testing.T) {
	s, _ := testServer(t, nil)
	userTok := s.MintToken("alice@demo.y360.test")
	cases := []struct {
		name, auth, org, query string
		status, code           int
		msg                    string
	}{
		{"no token", "", DemoOrgID, "", 401, 16, "Unauthenticated"},
		{"bearer scheme is not accepted", "Bearer " + DemoAdminToken, DemoOrgID, "", 401, 16, "Unauthenticated"},
		{"wrong token", "OAuth wrong", DemoOrgID, "", 403, 7, "Not an admin"},
		{"user token", "OAuth " + userTok, DemoOrgID, "", 403, 7, "Not an admin"},
		{"other org", "OAuth " + DemoAdminToken, "999", "", 403, 7, "Not an admin"},
		{"bad page", "OAuth " + DemoAdminToken, DemoOrgID, "?page=x", 400, 3, "invalid"},
		{"page 0", "OAuth " + DemoAdminToken, DemoOrgID, "?page=0", 400, 3, "invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "GET", usersURL(s, tc.org, tc.query), tc.auth, nil, "")
			if r.status != tc.status || r.body["code"] != float64(tc.code) || !strings.Contains(str(r.body, "message"), tc.msg) {
				t.Errorf("got %d %s", r.status, r.raw)
			}
			if _, ok := r.body["details"].([]any); !ok {
				t.Errorf("no details array: %s", r.raw)
			}
		})
	}
}
