package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources/y360"
)

func loadCfg(t *testing.T, file string) *config.Config {
	t.Helper()
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var otherApp = y360emu.ServiceApp{ID: "someone-elses-app", Scopes: []string{"mail:imap_full"}}

func TestSetup(t *testing.T) {
	needed := []string{"mail:imap_ro", "calendar:all", "cloud_api:disk.info", "cloud_api:disk.read"}
	tests := []struct {
		name     string
		opts     func(*y360emu.Options)
		flags    func(t *testing.T, dir string) setupOptions
		wantErr  bool
		wantOut  []string
		wantApps func(t *testing.T, apps []y360emu.ServiceApp)
	}{
		{
			name: "feature not active: activates, adds our app, keeps the other",
			opts: func(o *y360emu.Options) {
				o.FeatureInactive = true
				o.ServiceApps = []y360emu.ServiceApp{otherApp}
			},
			wantOut: []string{"✓ service applications: activated", "✓ our application: y360emu-client-id registered", "verified", "✓ test token: minted for alice@"},
			wantApps: func(t *testing.T, apps []y360emu.ServiceApp) {
				if len(apps) != 2 || !slices.ContainsFunc(apps, func(a y360emu.ServiceApp) bool { return a.ID == otherApp.ID && slices.Equal(a.Scopes, otherApp.Scopes) }) {
					t.Errorf("the other app was not kept as it was: %+v", apps)
				}
			},
		},
		{
			name: "our app listed with too few scopes: merged",
			opts: func(o *y360emu.Options) {
				o.ServiceApps = []y360emu.ServiceApp{otherApp, {ID: y360emu.DemoClientID, Scopes: []string{"mail:imap_ro", "addressbook:all"}}}
			},
			wantOut: []string{"registered with mail:imap_ro addressbook:all calendar:all cloud_api:disk.info cloud_api:disk.read"},
		},
		{
			name:    "already registered: nothing written",
			opts:    func(o *y360emu.Options) {},
			wantOut: []string{"already listed", "✓ test token"},
		},
		{
			name:    "not the owner",
			opts:    func(o *y360emu.Options) { o.OwnerToken = "the-owners-token" },
			wantErr: true,
			wantOut: []string{"✗ service-application list", "Not an owner", "only the organization's owner", "--owner-token-file"},
		},
		{
			name: "owner token from a file",
			opts: func(o *y360emu.Options) { o.OwnerToken = "the-owners-token"; o.ServiceApps = []y360emu.ServiceApp{} },
			flags: func(t *testing.T, dir string) setupOptions {
				f := filepath.Join(dir, "owner")
				os.WriteFile(f, []byte("the-owners-token\n"), 0o600)
				return setupOptions{ownerTokenFile: f}
			},
			wantOut: []string{"registered", "✓ test token"},
		},
		{
			name: "a missing scope on the user's token",
			opts: func(o *y360emu.Options) {
				o.Users[0].Scopes = []string{"mail:imap_ro", "cloud_api:disk.info", "cloud_api:disk.read"}
			},
			wantErr: true,
			wantOut: []string{"✗ test token", "lacks calendar:all", "oauth.yandex.ru"},
		},
		{
			name:    "unknown test user",
			opts:    func(o *y360emu.Options) {},
			flags:   func(*testing.T, string) setupOptions { return setupOptions{testUser: "nobody@demo.y360.test"} },
			wantErr: true,
			wantOut: []string{"✗ test user", `no user "nobody@demo.y360.test"`},
		},
		{
			name: "dry run changes nothing",
			opts: func(o *y360emu.Options) {
				o.FeatureInactive = true
				o.ServiceApps = []y360emu.ServiceApp{}
			},
			flags:   func(*testing.T, string) setupOptions { return setupOptions{dryRun: true} },
			wantOut: []string{"would activate"},
			wantApps: func(t *testing.T, apps []y360emu.ServiceApp) {
				if len(apps) != 0 {
					t.Errorf("a dry run wrote the list: %+v", apps)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := y360emu.DefaultOrg()
			tt.opts(&o)
			w := newWorld(t, o)
			cfg := loadCfg(t, w.config(""))
			var opts setupOptions
			if tt.flags != nil {
				opts = tt.flags(t, w.dir)
			}
			var out bytes.Buffer
			err := runSetup(context.Background(), cfg, opts, &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v\n%s", err, tt.wantErr, out.String())
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			apps := w.emu.ServiceApps()
			if !tt.wantErr && !opts.dryRun {
				var ours []string
				for _, a := range apps {
					if a.ID == y360emu.DemoClientID {
						ours = a.Scopes
					}
				}
				if m := missingScopes(ours, needed); m != nil {
					t.Errorf("after setup our app lacks %v (list %+v)", m, apps)
				}
			}
			if tt.wantApps != nil {
				tt.wantApps(t, apps)
			}
			if strings.Contains(out.String(), y360emu.TokenPrefix) || strings.Contains(out.String(), "the-owners-token") {
				t.Error("setup printed a token")
			}
		})
	}
}

func TestMergeApp(t *testing.T) {
	apps := []y360.ServiceApp{{ID: "a", Scopes: []string{"x"}}, {ID: "ours", Scopes: []string{"mail:imap_ro"}}}
	got, changed := mergeApp(apps, "ours", []string{"mail:imap_ro", "calendar:all"})
	if !changed || !slices.Equal(got[1].Scopes, []string{"mail:imap_ro", "calendar:all"}) || !slices.Equal(got[0].Scopes, []string{"x"}) {
		t.Errorf("merge: %+v changed=%v", got, changed)
	}
	if apps[1].Scopes[0] != "mail:imap_ro" || len(apps[1].Scopes) != 1 {
		t.Error("mergeApp modified its input")
	}
	if _, changed := mergeApp(got, "ours", []string{"calendar:all"}); changed {
		t.Error("nothing to add, but changed")
	}
	got, _ = mergeApp(nil, "ours", []string{"calendar:all"})
	if len(got) != 1 || got[0].ID != "ours" {
		t.Errorf("added to an empty list: %+v", got)
	}
	if lost := lostApps(apps, got); !slices.Equal(lost, []string{"a", "ours"}) {
		t.Errorf("lostApps = %v", lost)
	}
	if !errors.Is(errSetup, errSetup) || exitCode(errSetup) == exitOK {
		t.Error("a failed setup must exit non-zero")
	}
}
