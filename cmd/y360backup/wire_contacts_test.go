package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/internal/y360emu"
)

// setup grants (and doctor checks) the contacts scope only when contacts
// are enabled, and the configured scope rather than a fixed one.
func TestContactsScopeAndConfig(t *testing.T) {
	tests := []struct {
		name      string
		section   string // YAML flow mapping of sources.contacts
		wantScope string // "" = no contacts scope
		wantHome  string
		wantErr   string // a config problem naming this key
	}{
		{name: "off by default", section: "{}", wantHome: "/addressbook/{email}/"},
		{name: "on: addressbook:all", section: "{enabled: true}", wantScope: "addressbook:all", wantHome: "/addressbook/{email}/"},
		{name: "another scope", section: "{enabled: true, scope: 'contacts:read'}", wantScope: "contacts:read", wantHome: "/addressbook/{email}/"},
		{name: "discover", section: "{enabled: true, home: discover}", wantScope: "addressbook:all", wantHome: ""},
		{name: "ls needs a home", section: "{enabled: true, home: discover, listing: ls}", wantErr: "sources.contacts.listing"},
		{name: "bad size", section: "{enabled: true, max_contact_size: lots}", wantErr: "sources.contacts.max_contact_size"},
		{name: "bad auth", section: "{enabled: true, auth: digest}", wantErr: "sources.contacts.auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := "organization: {id: '1', admin_token: x, client_id: y, client_secret: z}\nrepository: {path: /tmp/x}\nsources:\n  contacts: " + tt.section + "\n"
			cfg, err := config.Parse("test.yaml", []byte(y), func(string) (string, bool) { return "", false })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a problem with %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := neededScopes(cfg)
			if tt.wantScope == "" && slices.Contains(got, "addressbook:all") || tt.wantScope != "" && !slices.Contains(got, tt.wantScope) {
				t.Errorf("neededScopes = %v, want contacts scope %q", got, tt.wantScope)
			}
			c, err := contactsConfig(cfg.Sources.Contacts)
			if err != nil || c.Home != tt.wantHome {
				t.Errorf("contactsConfig: home %q, err %v; want home %q", c.Home, err, tt.wantHome)
			}
		})
	}
}

// The CLI end to end with contacts on: backup, ls, restore in place after
// the user's personal address book was emptied, then a rerun that writes
// nothing.
func TestCLIContactsBackupLsRestore(t *testing.T) {
	w := newWorld(t, y360emu.DefaultOrg())
	alice := "alice@demo.y360.test"
	if err := w.emu.SeedDemoContacts(alice); err != nil {
		t.Fatal(err)
	}
	before := w.emu.ContactsBook(alice, y360emu.ContactsPersonal)
	cfg := w.config(contactsOn)
	if out, code := runCLI(t, "backup", "-c", cfg, "-u", alice); code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	out, code := runCLI(t, "ls", "-c", cfg, alice, "contacts", y360emu.ContactsPersonal, "--json")
	var items []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &items) != nil || len(items) != len(before) {
		t.Fatalf("ls: exit %d, %d items, want %d\n%s", code, len(items), len(before), out)
	}
	w.emu.ContactsDelete(alice, y360emu.ContactsPersonal, "")
	restore := []string{"restore", "-c", cfg, "-u", alice, "--source", "contacts", "--in-place"}
	if out, code := runCLI(t, restore...); code != 0 || !strings.Contains(out, "2 written, 1 already there") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	after := w.emu.ContactsBook(alice, y360emu.ContactsPersonal)
	if len(after) != len(before) {
		t.Fatalf("restored %d cards, want %d", len(after), len(before))
	}
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s came back different", name)
		}
	}
	out, code = runCLI(t, append(restore, "--json")...)
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["written"] != float64(0) {
		t.Errorf("rerun: exit %d, report %v, want written 0\n%s", code, rep, out)
	}
}
