package y360_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources/y360"
)

func TestNewValidates(t *testing.T) {
	ok := y360.Config{OrgID: "123", AdminToken: "adm-secret", ClientID: "cid", ClientSecret: "csecret"}
	cases := []struct {
		name    string
		mod     func(*y360.Config)
		errHave string
	}{
		{"ok", func(*y360.Config) {}, ""},
		{"no org", func(c *y360.Config) { c.OrgID = " " }, "org_id is required"},
		{"org not digits", func(c *y360.Config) { c.OrgID = "12/3" }, "digits only"},
		{"no admin token", func(c *y360.Config) { c.AdminToken = "" }, "admin token is required"},
		{"id without secret", func(c *y360.Config) { c.ClientSecret = "" }, "set together"},
		{"no service app", func(c *y360.Config) { c.ClientID, c.ClientSecret = "", "" }, ""},
		{"relative api base", func(c *y360.Config) { c.APIBase = "api360.yandex.net" }, "api_base"},
		{"ftp oauth url", func(c *y360.Config) { c.OAuthURL = "ftp://x/token" }, "oauth_url"},
		{"credentials in url", func(c *y360.Config) { c.APIBase = "https://u:p@x" }, "credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.mod(&cfg)
			c, err := y360.New(cfg)
			if tc.errHave == "" {
				if err != nil || c == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHave) {
				t.Fatalf("error %v, want %q", err, tc.errHave)
			}
			if strings.Contains(err.Error(), "adm-secret") || strings.Contains(err.Error(), "csecret") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestConfigStringMasksSecrets(t *testing.T) {
	cfg := y360.Config{OrgID: "1", AdminToken: "adm-secret", ClientID: "cid", ClientSecret: "csecret"}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), cfg.String()} {
		if strings.Contains(s, "adm-secret") || strings.Contains(s, "csecret") || !strings.Contains(s, "cid") {
			t.Errorf("printed config: %s", s)
		}
	}
}
