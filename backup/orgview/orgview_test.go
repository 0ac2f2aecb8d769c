package orgview_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/export"
	"github.com/y360backup/y360backup/backup/orgview"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/sourcetest"
	"github.com/y360backup/y360backup/sources/y360"
)

// hostile is a group name with shell, path and CSV-formula characters.
const hostile = `=x'; rm -rf ~ #"$(id)` + "`id`/../..\nforged line"

type env struct {
	emu  *y360emu.Server
	repo *backup.Repository
	opts backup.RunOptions
}

func newEnv(t *testing.T) *env {
	t.Helper()
	o := y360emu.DefaultOrg()
	d := y360emu.DemoOrgData()
	d.Groups = append(d.Groups, y360emu.Group{ID: 7, Name: hostile, Members: []y360emu.Member{{Type: "user", ID: "1130000000000005"}}})
	// Ids with path characters: a domain (listed) and a shared mailbox (fetched by id).
	d.Domains = append(d.Domains, y360emu.Domain{Name: "../../etc/passwd"})
	d.Shared = append(d.Shared, y360emu.Mailbox{ID: "a/b c?#%", Email: "odd@demo.y360.test"})
	o.Org = &d
	emu := y360emu.New(o)
	base := emu.Start()
	t.Cleanup(emu.Close)
	c, err := y360.New(y360.Config{OrgID: o.OrgID, AdminToken: o.AdminToken, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		APIBase: base, OAuthURL: emu.OAuthURL(), RPS: -1, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := backup.OpenOrInit(context.Background(), mem.New(), backup.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	cfg := org.NewConfig()
	cfg.PerPage = 2
	return &env{emu: emu, repo: repo, opts: backup.RunOptions{Users: c, OrgSources: []sources.Source{org.New(c, cfg)},
		Tokens: func(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{} }}}
}

func (e *env) backup(t *testing.T) *backup.Snapshot {
	t.Helper()
	time.Sleep(2 * time.Millisecond) // distinct snapshot names
	snap, err := e.repo.Backup(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status != backup.StatusOK {
		t.Fatalf("snapshot %s: %+v", snap.Status, snap.Users)
	}
	return snap
}

func (e *env) load(t *testing.T, snap *backup.Snapshot) *org.State {
	t.Helper()
	full, err := e.repo.FindSnapshot(context.Background(), snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, problems, err := orgview.Load(context.Background(), e.repo, full)
	if err != nil || len(problems) > 0 {
		t.Fatalf("load: %v %v", err, problems)
	}
	return st
}

func TestSnapshotsDiffPlanAndExport(t *testing.T) {
	e := newEnv(t)
	s1 := e.backup(t)
	if s1.UsersOK+s1.UsersFailed != 0 || !orgview.HasOrg(s1) {
		t.Errorf("users ok %d failed %d, want 0 (no user source ran; the organization is no user)", s1.UsersOK, s1.UsersFailed)
	}
	// Unchanged org: the next snapshot stores no new object.
	if s := e.backup(t); s.Totals.Uploaded != 0 || s.Totals.Items != 0 {
		t.Errorf("unchanged org stored %d objects, %d items", s.Totals.Uploaded, s.Totals.Items)
	}
	e.emu.UpdateOrg(func(d *y360emu.OrgData) {
		d.Groups[0].Members = []y360emu.Member{{Type: "user", ID: "1130000000000002"}, {Type: "user", ID: "1130000000000004"}} // alice left, dave joined
		d.Groups = append(d.Groups[:1], d.Groups[2:]...)                                                                       // group 2 removed
		d.Departments = d.Departments[:2]                                                                                      // Engineering removed
		d.UserDepartments["1130000000000003"] = 2                                                                              // carol: Sales
		d.RoutingRules = nil
		d.Shared[0].Actors = []y360emu.Actor{{ActorID: "1130000000000002", Roles: []string{"shared_mailbox_reader"}},
			{ActorID: "1130000000000006", Roles: []string{"shared_mailbox_owner"}}} // alice lost, bob fewer roles, frank gained
	})
	s2 := e.backup(t)
	old, cur := e.load(t, s1), e.load(t, s2)

	var lines []string
	for _, c := range org.Diff(old, cur) {
		lines = append(lines, c.String())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		`user carol@demo.y360.test left department "Engineering" (id 3)`,
		`user carol@demo.y360.test joined department "Sales" (id 2)`,
		`department "Engineering" (id 3) removed`,
		`group "Engineers and sales" (id 2) removed`,
		`user alice@demo.y360.test left group "Managers" (id 1)`,
		`user dave@demo.y360.test joined group "Managers" (id 1)`,
		`user alice@demo.y360.test lost access to mailbox support@demo.y360.test (shared_mailbox_owner)`,
		`user bob@demo.y360.test changed roles on mailbox support@demo.y360.test (shared_mailbox_reader,shared_mailbox_sender → shared_mailbox_reader)`,
		`user frank@demo.y360.test gained access to mailbox support@demo.y360.test (shared_mailbox_owner)`,
		`mail routing rules changed`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\nforged line") {
		t.Errorf("a name with a newline forged a diff line:\n%s", got)
	}
	if d := org.Diff(cur, cur); len(d) != 0 {
		t.Errorf("diff of a state with itself: %v", d)
	}

	var plan bytes.Buffer
	if err := org.Plan(&plan, old, cur, org.PlanOptions{OrgID: "7700001", Source: "s1", Target: "s2"}); err != nil {
		t.Fatal(err)
	}
	script := plan.String()
	for _, want := range []string{`DEPT_3=$(call POST "/directory/v1/org/$ORG_ID/departments" '{"description":"Builds things","label":"eng","name":"Engineering","parentId":1}'`,
		`GROUP_2=$(call POST "/directory/v1/org/$ORG_ID/groups"`,
		`call POST "/directory/v1/org/$ORG_ID/groups/$GROUP_2/members" '{"id":'"$DEPT_3"',"type":"department"}'`,
		`call POST "/directory/v1/org/$ORG_ID/groups/1/members" '{"id":"1130000000000001","type":"user"}'`,
		`call PATCH "/directory/v1/org/$ORG_ID/users/1130000000000003" '{"departmentId":'"$DEPT_3"'}'`,
		`call PUT "/admin/v1/org/$ORG_ID/mail/routing/rules"`,
		`call POST "/admin/v1/org/$ORG_ID/mailboxes/set/8000000000000001?actorId=1130000000000001" '{"roles":["shared_mailbox_owner"]}'`,
		`call POST "/admin/v1/org/$ORG_ID/mailboxes/set/8000000000000001?actorId=1130000000000002" '{"roles":["shared_mailbox_reader","shared_mailbox_sender"]}'`} {
		if !strings.Contains(script, want) {
			t.Errorf("plan lacks %s\n%s", want, script)
		}
	}
	runPlan(t, script)
	exportOrg(t, e, s2)
}

// runPlan runs the script with fake curl and jq and checks every call's
// arguments arrived intact (no shell injection from names).
func runPlan(t *testing.T, script string) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	fake := "#!/usr/bin/env bash\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> " + log + "; done\necho '{\"id\":42}'\n"
	for name, body := range map[string]string{"curl": fake, "jq": "#!/usr/bin/env bash\necho 42\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "Y360_ADMIN_TOKEN=tok", "API=http://emu")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plan script failed: %v\n%s\n%s", err, out, script)
	}
	calls, _ := os.ReadFile(log)
	for _, want := range []string{"http://emu/directory/v1/org/7700001/groups/42/members", `{"id":42,"type":"department"}`, "Authorization: OAuth tok"} {
		if !bytes.Contains(calls, []byte(want)) {
			t.Errorf("calls lack %q:\n%s", want, calls)
		}
	}
}

func exportOrg(t *testing.T, e *env, snap *backup.Snapshot) {
	full, err := e.repo.FindSnapshot(context.Background(), snap.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rep, err := export.Export(context.Background(), e.repo, full, backup.Selection{Users: []string{"org"}}, export.Options{Out: out})
	if err != nil || rep.Failed > 0 {
		t.Fatalf("export: %v %+v", err, rep)
	}
	b, err := os.ReadFile(filepath.Join(out, "org", "org", "groups", "7.json"))
	if err != nil || !bytes.Contains(b, []byte(`"name":"=x'; rm -rf ~ #\"$(id)`)) {
		t.Errorf("exported group 7: %v %s", err, b)
	}
	csv, err := os.ReadFile(filepath.Join(out, "org", "org", "groups.csv"))
	if err != nil || !bytes.HasPrefix(csv, []byte("id,name,type")) || !bytes.Contains(csv, []byte(`"'=x'; rm -rf ~`)) {
		t.Errorf("groups.csv (formula must be defused): %v\n%s", err, csv)
	}
	// Ids with path characters become one safe file name inside their kind's folder.
	for _, f := range []string{"domains/.._.._etc_passwd.json", "shared_mailboxes/a_b c_#%.json"} {
		if _, err := os.Stat(filepath.Join(out, "org", "org", f)); err != nil {
			t.Errorf("export lacks %s: %v", f, err)
		}
	}
	filepath.WalkDir(out, func(p string, _ os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(out, p); strings.HasPrefix(rel, "..") || strings.Contains(p, "passwd") && !strings.HasPrefix(rel, "org/org/domains/") {
			t.Errorf("export wrote outside its folders: %s", p)
		}
		return err
	})
	for _, f := range []string{"users.csv", "group_members.csv", "mailbox_actors.csv", "mail_user_rules.csv", "shared_mailboxes.csv"} {
		if _, err := os.Stat(filepath.Join(out, "org", "org", f)); err != nil {
			t.Errorf("export lacks %s: %v", f, err)
		}
	}
}
