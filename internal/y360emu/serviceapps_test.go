package y360emu

import (
	"strings"
	"testing"
)

func appsURL(s *Server, suffix string) string {
	return s.URL() + "/security/v1/org/" + DemoOrgID + "/service_applications" + suffix
}

func TestServiceAppsLifecycle(t *testing.T) {
	s, _ := testServer(t, func(o *Options) { o.FeatureInactive = true })
	owner := "OAuth " + DemoAdminToken
	const js = "application/json"

	r := call(t, "GET", appsURL(s, ""), owner, nil, "")
	if r.status != 400 || str(r.body, "message") != "feature is not active" {
		t.Fatalf("inactive GET: %d %s", r.status, r.raw)
	}
	r = call(t, "POST", appsURL(s, ""), owner, strings.NewReader(`{"applications":[]}`), js)
	if r.status != 400 || str(r.body, "message") != "feature is not active" {
		t.Fatalf("inactive POST: %d %s", r.status, r.raw)
	}
	if r = call(t, "POST", appsURL(s, "/activate"), owner, strings.NewReader(`{}`), js); r.status != 200 {
		t.Fatalf("activate: %d %s", r.status, r.raw)
	}
	r = call(t, "GET", appsURL(s, ""), owner, nil, "")
	apps, _ := r.body["applications"].([]any)
	if r.status != 200 || len(apps) != 1 || apps[0].(map[string]any)["id"] != DemoClientID {
		t.Fatalf("default list: %d %s", r.status, r.raw)
	}

	// POST replaces the whole list.
	r = call(t, "POST", appsURL(s, ""), owner, strings.NewReader(`{"applications":[{"id":"a","scopes":["mail:imap_ro"]},{"id":"b","scopes":[]}]}`), js)
	if r.status != 200 {
		t.Fatalf("set: %d %s", r.status, r.raw)
	}
	if got := s.ServiceApps(); len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Errorf("after set: %+v", got)
	}
	// The demo client is no longer listed: exchange refused.
	if r := exchange(t, s, "subject_token", aliceID); str(r.body, "error") != "unauthorized_client" {
		t.Errorf("exchange after removal: %s", r.raw)
	}

	// Validation.
	var many []string
	for i := 0; i < 21; i++ {
		many = append(many, `{"id":"x","scopes":[]}`)
	}
	bad := map[string]string{
		"not json": `{`,
		"no id":    `{"applications":[{"scopes":[]}]}`,
		"over 20":  `{"applications":[` + strings.Join(many, ",") + `]}`,
	}
	for name, body := range bad {
		if r := call(t, "POST", appsURL(s, ""), owner, strings.NewReader(body), js); r.status != 400 || r.body["code"] != float64(3) {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}

	// Deactivate: only clearing works afterwards.
	if r = call(t, "POST", appsURL(s, "/deactivate"), owner, strings.NewReader(`{}`), js); r.status != 200 {
		t.Fatalf("deactivate: %d", r.status)
	}
	if r = call(t, "POST", appsURL(s, ""), owner, strings.NewReader(`{"applications":[]}`), js); r.status != 400 {
		t.Errorf("POST after deactivate: %d", r.status)
	}
	if r = call(t, "DELETE", appsURL(s, ""), owner, nil, ""); r.status != 200 {
		t.Errorf("DELETE: %d %s", r.status, r.raw)
	}
	if got := s.ServiceApps(); len(got) != 0 {
		t.Errorf("after DELETE: %+v", got)
	}
}

func TestServiceAppsOwnerOnly(t *testing.T) {
	s, _ := testServer(t, func(o *Options) { o.OwnerToken = "owner-token" })
	cases := []struct {
		auth   string
		status int
		msg    string
	}{
		{"", 401, "Unauthenticated"},
		{"OAuth " + DemoAdminToken, 403, "Not an owner"},
		{"OAuth " + s.MintToken("alice@demo.y360.test"), 403, "Not an owner"},
		{"OAuth owner-token", 200, ""},
	}
	for _, tc := range cases {
		for _, m := range []struct{ method, suffix string }{{"GET", ""}, {"POST", "/activate"}, {"POST", "/deactivate"}, {"DELETE", ""}} {
			r := call(t, m.method, appsURL(s, m.suffix), tc.auth, strings.NewReader(`{}`), "application/json")
			if r.status != tc.status || (tc.msg != "" && str(r.body, "message") != tc.msg) {
				t.Errorf("%s %s with %q: %d %s", m.method, m.suffix, tc.auth, r.status, r.raw)
			}
		}
		s.SetFeatureActive(true)
	}
	// The owner token also works on the directory (an owner is an admin).
	if r := call(t, "GET", usersURL(s, DemoOrgID, ""), "OAuth owner-token", nil, ""); r.status != 200 {
		t.Errorf("owner on directory: %d", r.status)
	}
}

func TestWhoami(t *testing.T) {
	s, _ := testServer(t, nil)
	r := call(t, "GET", s.URL()+"/whoami", "OAuth "+DemoAdminToken, nil, "")
	if r.status != 200 || str(r.body, "login") != "admin@demo.y360.test" || len(r.body["orgIds"].([]any)) != 1 {
		t.Errorf("admin: %d %s", r.status, r.raw)
	}
	if !strings.Contains(r.raw, "directory:read_users") {
		t.Errorf("admin scopes: %s", r.raw)
	}
	r = call(t, "GET", s.URL()+"/whoami", "OAuth "+s.MintToken("dave@demo.y360.test", "calendar:all"), nil, "")
	if r.status != 200 || str(r.body, "login") != "dave@demo.y360.test" || !strings.Contains(r.raw, `"scopes":["calendar:all"]`) {
		t.Errorf("user: %d %s", r.status, r.raw)
	}
	for _, auth := range []string{"", "OAuth junk"} {
		if r = call(t, "GET", s.URL()+"/whoami", auth, nil, ""); r.status != 401 || r.body["code"] != float64(16) {
			t.Errorf("%q: %d %s", auth, r.status, r.raw)
		}
	}
}
