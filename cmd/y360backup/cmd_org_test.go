package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/demo"
)

// The org commands on the demo's repository, whose second backup saw dave
// join the Managers group and carol move to Sales.
func TestCLIOrgOnDemoRepository(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	if err := demo.Run(context.Background(), demo.Options{Dir: repo, Small: true}); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("organization: {id: '7700001', admin_token: x, client_id: y, client_secret: z}\nrepository: {path: "+repo+"}\n"), 0o600)
	out, code := runCLI(t, "snapshots", "-c", cfg, "--json")
	var snaps []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &snaps) != nil || len(snaps) < 2 {
		t.Fatalf("snapshots: exit %d\n%s", code, out)
	}
	first, second := snaps[0]["id"].(string), snaps[1]["id"].(string)

	out, code = runCLI(t, "org", "diff", "-c", cfg, first, second)
	if code != 0 || !strings.Contains(out, `user dave@demo.y360.test joined group "Managers" (id 1)`) ||
		!strings.Contains(out, `user carol@demo.y360.test joined department "Sales" (id 2)`) {
		t.Errorf("org diff: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "org", "plan-restore", "-c", cfg, first)
	if code != 0 || !strings.Contains(out, "NOTHING has been executed") ||
		!strings.Contains(out, `call PATCH "/directory/v1/org/$ORG_ID/users/1130000000000003" '{"departmentId":3}'`) {
		t.Errorf("org plan-restore: exit %d\n%s", code, out)
	}
	if out, code = runCLI(t, "ls", "-c", cfg, "org"); code != 0 || !strings.Contains(out, "mailbox_actors") {
		t.Errorf("ls org: exit %d\n%s", code, out)
	}
	exp := filepath.Join(dir, "export")
	if out, code = runCLI(t, "export", "-c", cfg, "-u", "org", "--out", exp); code != 0 {
		t.Fatalf("export org: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(exp, "org", "org", "users.csv")); err != nil || !strings.Contains(string(b), "alice@demo.y360.test") {
		t.Errorf("users.csv: %v\n%s", err, b)
	}
	if _, code = runCLI(t, "restore", "-c", cfg, "-u", "org"); code == 0 {
		t.Error("restore of the organization succeeded; it must point to org plan-restore")
	}
	if _, code = runCLI(t, "org", "diff", "-c", cfg, "nosuchsnapshot"); code == 0 {
		t.Error("org diff of an unknown snapshot exited 0")
	}
}
