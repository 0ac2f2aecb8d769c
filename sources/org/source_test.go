package org_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/sourcetest"
	"github.com/y360backup/y360backup/sources/y360"
)

// bigOrg is the demo org plus enough of every kind to need several pages
// of perPage 3.
func bigOrg() y360emu.Options {
	o := y360emu.DefaultOrg()
	d := y360emu.DemoOrgData()
	d.Delegated = nil
	for i := 0; i < 5; i++ {
		d.Departments = append(d.Departments, y360emu.Department{ID: 10 + i, Name: fmt.Sprintf("Dept %d", i), ParentID: 1})
		d.Groups = append(d.Groups, y360emu.Group{ID: 10 + i, Name: fmt.Sprintf("Group %d", i),
			Members: []y360emu.Member{{Type: "user", ID: o.Users[i].ID}}})
		d.Domains = append(d.Domains, y360emu.Domain{Name: fmt.Sprintf("d%d.example", i)})
		d.Shared = append(d.Shared, y360emu.Mailbox{ID: strconv.Itoa(9000 + i), Email: fmt.Sprintf("box%d@demo.y360.test", i)})
		d.Delegated = append(d.Delegated, y360emu.Mailbox{ID: o.Users[i].ID, Email: o.Users[i].Email,
			Actors: []y360emu.Actor{{ActorID: o.Users[5].ID, Roles: []string{"shared_mailbox_reader"}}}})
	}
	o.Org = &d
	return o
}

type env struct {
	emu *y360emu.Server
	c   *y360.Client
	src *org.Source
}

func newEnv(t testing.TB, o y360emu.Options, perPage int) *env {
	t.Helper()
	emu := y360emu.New(o)
	base := emu.Start()
	t.Cleanup(emu.Close)
	c, err := y360.New(y360.Config{OrgID: o.OrgID, AdminToken: o.AdminToken, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		APIBase: base, OAuthURL: emu.OAuthURL(), RPS: -1, MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := org.NewConfig()
	cfg.PerPage = perPage
	return &env{emu: emu, c: c, src: org.New(c, cfg)}
}

func (e *env) backup(t *testing.T, st *sourcetest.MemStore) {
	t.Helper()
	if err := e.src.Backup(context.Background(), sources.User{ID: "org", Email: "org"}, nil, st); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

func TestBackupEveryKindOverSeveralPages(t *testing.T) {
	e := newEnv(t, bigOrg(), 3)
	st := sourcetest.New()
	e.backup(t, st)
	if len(st.Failures) > 0 {
		t.Fatalf("failures: %v", st.Failures)
	}
	want := map[string]int{
		org.KindUsers: 8, org.KindDepartments: 8, org.KindGroups: 7, org.KindGroupMembers: 7, org.KindDomains: 6,
		org.KindShared: 6, org.KindDelegated: 5, org.KindActors: 11, org.KindRoutingRules: 1,
		org.KindUserRules: 7, org.KindSenderInfo: 7, org.KindServiceApps: 1,
	}
	for kind, n := range want {
		if got := len(st.Items(kind)); got != n {
			t.Errorf("%s: %d items, want %d", kind, got, n)
		}
	}
	// Paged kinds really took more than one page.
	for _, p := range []string{"/users", "/departments", "/groups", "/domains", "/mailboxes/shared", "/mailboxes/delegated"} {
		if n := countPages(e.emu, p); n < 2 {
			t.Errorf("%s: %d page requests, want >= 2", p, n)
		}
	}
	// Stored bytes are the API's JSON: the user body parses and names the user.
	it := st.Items(org.KindUsers)["1130000000000001"]
	body, _ := st.Body(it.Hash)
	if !strings.Contains(string(body), `"email":"alice@demo.y360.test"`) || !strings.Contains(string(body), `"contacts"`) {
		t.Errorf("user body not the full profile: %s", body)
	}
	// Part 3: shared mailboxes and the blocked user are reported, never silently absent.
	skips := strings.Join(st.Skips, "\n")
	for _, w := range []string{"shared mailbox support@demo.y360.test", "shared mailbox box4@demo.y360.test", "blocked user mallory@demo.y360.test"} {
		if !strings.Contains(skips, w) {
			t.Errorf("skips lack %q:\n%s", w, skips)
		}
	}
	if strings.Count(skips, org.DelegateCause) < 7 {
		t.Errorf("want >= 7 %q skips:\n%s", org.DelegateCause, skips)
	}
}

// countPages counts list requests under a path suffix (any page).
func countPages(emu *y360emu.Server, suffix string) int {
	n := 0
	for _, h := range emu.Hits("/") {
		if strings.HasSuffix(h.Path, suffix) {
			n++
		}
	}
	return n
}

func TestUnchangedOrgStoresNothing(t *testing.T) {
	e := newEnv(t, bigOrg(), 3)
	st := sourcetest.New()
	e.backup(t, st)
	uploads, commits := st.BodyUploads, st.Commits
	e.backup(t, st)
	if st.BodyUploads != uploads || st.Commits != commits {
		t.Errorf("second run over an unchanged org: uploads %d→%d, commits %d→%d", uploads, st.BodyUploads, commits, st.Commits)
	}
	// One change: one new body, one commit.
	e.emu.UpdateOrg(func(d *y360emu.OrgData) { d.Groups[0].Name = "Leaders" })
	e.backup(t, st)
	if st.BodyUploads != uploads+1 {
		t.Errorf("renamed group: %d new bodies, want 1", st.BodyUploads-uploads)
	}
}

func TestErrorMidListingIsRecordedNotFatal(t *testing.T) {
	e := newEnv(t, bigOrg(), 3)
	st := sourcetest.New()
	e.backup(t, st)
	before := len(st.Items(org.KindGroups))
	// The second page of groups fails (a 400 is permanent: not retried).
	e.emu.AddFault(y360emu.Fault{PathPrefix: "/directory/v1/org/" + y360emu.DemoOrgID + "/groups", Status: http.StatusBadRequest, Every: 2, Next: 1})
	e.emu.UpdateOrg(func(d *y360emu.OrgData) { d.Domains = d.Domains[:1] })
	st.Failures = nil
	e.backup(t, st)
	if !strings.Contains(strings.Join(st.Failures, "\n"), "groups listing") {
		t.Fatalf("failures %v lack the groups listing", st.Failures)
	}
	if got := len(st.Items(org.KindGroups)); got != before {
		t.Errorf("groups after a failed page: %d, want all %d kept (no deletions from an incomplete list)", got, before)
	}
	// The rest of the run went on: the shrunk domain list was recorded.
	if got := len(st.Items(org.KindDomains)); got != 1 {
		t.Errorf("domains: %d, want 1 (the run continued after the failure)", got)
	}
}

func TestForbiddenKindIsSkippedWithScope(t *testing.T) {
	e := newEnv(t, bigOrg(), 1000)
	e.emu.AddFault(y360emu.Fault{PathPrefix: "/security/v1/org/", Status: http.StatusForbidden})
	st := sourcetest.New()
	e.backup(t, st)
	if len(st.Failures) > 0 {
		t.Errorf("a 403 is not a failure: %v", st.Failures)
	}
	if !strings.Contains(strings.Join(st.Skips, "\n"), "ya360_security:service_applications_read") {
		t.Errorf("skips do not name the missing scope: %v", st.Skips)
	}
}

func TestAdminTokenRefusedFailsTheSource(t *testing.T) {
	o := bigOrg()
	e := newEnv(t, o, 1000)
	e.emu.AddFault(y360emu.Fault{PathPrefix: "/directory/", Status: http.StatusUnauthorized})
	err := e.src.Backup(context.Background(), sources.User{ID: "org"}, nil, sourcetest.New())
	if err == nil || !strings.Contains(err.Error(), "admin token refused") {
		t.Fatalf("err = %v, want admin token refused", err)
	}
}

func TestFetchStateReadsTheLiveOrg(t *testing.T) {
	e := newEnv(t, bigOrg(), 3)
	e.emu.AddFault(y360emu.Fault{PathPrefix: "/directory/v1/org/" + y360emu.DemoOrgID + "/domains", Status: http.StatusBadRequest})
	st, problems, err := org.FetchState(context.Background(), e.c, org.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Users) != 8 || len(st.Departments) != 8 || len(st.Groups) != 7 || len(st.Members) != 7 || st.RoutingRules == nil {
		t.Errorf("state: %d users, %d departments, %d groups, %d member lists, rules %s",
			len(st.Users), len(st.Departments), len(st.Groups), len(st.Members), st.RoutingRules)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "domains listing") {
		t.Errorf("problems = %v, want the failed domains listing only", problems)
	}
	for _, h := range e.emu.Hits("/") {
		if strings.Contains(h.Path, "/settings/") {
			t.Fatalf("mail settings read for a plan: %s", h.Path)
		}
	}
}

func TestManySharedMailboxesAreCountedNotDropped(t *testing.T) {
	o := bigOrg()
	for i := 0; i < 300; i++ {
		o.Org.Shared = append(o.Org.Shared, y360emu.Mailbox{ID: strconv.Itoa(20000 + i), Email: fmt.Sprintf("s%d@demo.y360.test", i)})
	}
	e := newEnv(t, o, 1000)
	st := sourcetest.New()
	e.backup(t, st)
	last := st.Skips[len(st.Skips)-1]
	// 306 shared + 1 blocked = 307; 150 named, the rest in one line.
	if len(st.Skips) != 151 || !strings.HasPrefix(last, "157 more shared, delegated or blocked mailboxes") {
		t.Errorf("%d skips, last %q", len(st.Skips), last)
	}
	if n := len(st.Items(org.KindShared)); n != 306 {
		t.Errorf("%d shared mailboxes stored, want 306", n)
	}
}

func TestMissingEndpointIsOneSkip(t *testing.T) {
	e := newEnv(t, bigOrg(), 1000)
	// sender_info (path UNCONFIRMED) absent: every user would answer 404.
	e.emu.AddFault(y360emu.Fault{PathPrefix: "/admin/v1/org/" + y360emu.DemoOrgID + "/mail/users/", Status: http.StatusNotFound})
	st := sourcetest.New()
	e.backup(t, st)
	if len(st.Failures) > 0 {
		t.Errorf("a missing endpoint failed the run: %v", st.Failures)
	}
	n := 0
	for _, s := range st.Skips {
		if strings.Contains(s, "404") {
			n++
		}
	}
	if n != 2 { // user_rules and sender_info, once each
		t.Errorf("%d 404 skips, want 2:\n%s", n, strings.Join(st.Skips, "\n"))
	}
	if got := e.emu.Count("/admin/v1/org/" + y360emu.DemoOrgID + "/mail/users/"); got != 2 {
		t.Errorf("%d settings requests, want 2 (stop at the first 404)", got)
	}
}
