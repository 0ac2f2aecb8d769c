package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/config"
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
