package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
)

func TestDoctor(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(*y360emu.Options)
		world   func(t *testing.T, w *world)
		extra   string
		flags   doctorOptions
		wantErr bool
		want    []string
		notWant []string
	}{
		{
			name: "everything works",
			opts: func(*y360emu.Options) {},
			want: []string{"✓ admin token", "✓ Directory", "checking with alice@", "principal /alice@demo.y360.test/", "✓ service application", "✓ token exchange",
				"✓ IMAP login", "XOAUTH2 accepted", "✓ CalDAV", "answered 207", "✓ Disk", "✓ repository", "empty: the first backup creates", "All links work."},
			notWant: []string{"✗"},
		},
		{
			name:    "feature not active",
			opts:    func(o *y360emu.Options) { o.FeatureInactive = true },
			wantErr: true,
			want: []string{"✗ service application: service applications are not active", "run y360backup setup",
				"✗ token exchange", "not active", "– IMAP login: skipped", "– CalDAV: skipped", "✓ repository"},
		},
		{
			name:    "admin token is not the owner's (service-app check skipped, the rest works)",
			opts:    func(o *y360emu.Options) { o.OwnerToken = "owner" },
			want:    []string{"– service application: the admin token is not the owner's", "✓ token exchange", "All links work."},
			notWant: []string{"✗"},
		},
		{
			name:    "a missing scope",
			opts:    func(o *y360emu.Options) { o.Users[0].Scopes = []string{"mail:imap_ro"} },
			wantErr: true,
			want:    []string{"✗ token exchange: token for alice@demo.y360.test lacks calendar:all", "(y360backup setup)"},
		},
		{
			name:    "app not in the org's list",
			opts:    func(o *y360emu.Options) { o.ServiceApps = []y360emu.ServiceApp{} },
			wantErr: true,
			want:    []string{"✗ service application: y360emu-client-id is listed with \"\"; missing mail:imap_ro", "✗ token exchange", "not in this organization's service-application list"},
		},
		{
			name:    "wrong client secret",
			opts:    func(o *y360emu.Options) { o.ClientSecret = "rotated" },
			wantErr: true, // the config keeps the demo secret; the emulator wants another
			want:    []string{"✗ token exchange", "client_id or client_secret is wrong"},
			notWant: []string{y360emu.DemoClientSecret},
		},
		{
			name: "CalDAV refuses the token",
			opts: func(*y360emu.Options) {},
			world: func(t *testing.T, w *world) {
				w.wrapCalDAV(func(http.Handler) http.Handler {
					return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { http.Error(rw, "no", http.StatusUnauthorized) })
				})
			},
			wantErr: true,
			want:    []string{"✗ CalDAV: PROPFIND /: HTTP 401", "needs scope calendar:all", "✓ IMAP login", "✓ Disk"},
		},
		{
			name:    "contacts enabled",
			opts:    func(*y360emu.Options) {},
			extra:   contactsOn,
			want:    []string{"✓ CardDAV: 2 address book(s) listed (1, 2)", "All links work."},
			notWant: []string{"✗"},
		},
		{
			name: "contacts enabled, the scope missing",
			opts: func(o *y360emu.Options) {
				o.Users[0].Scopes = []string{"mail:imap_ro", "calendar:all", "cloud_api:disk.read", "cloud_api:disk.info"}
			},
			extra:   contactsOn,
			wantErr: true,
			want:    []string{"✗ token exchange", "lacks addressbook:all", "✗ CardDAV", "HTTP 401", "needs scope addressbook:all", "✓ CalDAV"},
		},
		{
			name:    "IMAP unreachable",
			opts:    func(*y360emu.Options) {},
			world:   func(t *testing.T, w *world) { w.imap.Close() },
			wantErr: true,
			want:    []string{"✗ IMAP login", "check sources.mail.addr"},
		},
		{
			name:    "unknown user",
			opts:    func(*y360emu.Options) {},
			flags:   doctorOptions{user: "ghost@demo.y360.test"},
			wantErr: true,
			want:    []string{"✗ Directory", `no user "ghost@demo.y360.test"`, "– IMAP login: skipped"},
		},
		{
			name: "repository not writable",
			opts: func(*y360emu.Options) {},
			world: func(t *testing.T, w *world) {
				os.WriteFile(filepath.Join(w.dir, "repo"), []byte("a file, not a folder"), 0o600)
			},
			wantErr: true,
			want:    []string{"✗ repository", "repository.path"},
		},
		{
			name:    "masked emails",
			opts:    func(*y360emu.Options) {},
			extra:   "log: {mask_emails: true}\n",
			want:    []string{"checking with a[", "]@demo.y360.test", "principal /a["}, // pseudonyms: a[hash]@domain
			notWant: []string{"alice@"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := y360emu.DefaultOrg()
			tt.opts(&o)
			w := newWorld(t, o)
			cfgFile := w.config(tt.extra)
			if tt.world != nil {
				tt.world(t, w)
			}
			cfg := loadCfg(t, cfgFile)
			flags := tt.flags
			flags.timeout = 10 * time.Second
			var out bytes.Buffer
			err := runDoctor(context.Background(), cfg, flags, &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v\n%s", err, tt.wantErr, out.String())
			}
			if err != nil && !errors.Is(err, errDoctor) {
				t.Errorf("err %v is not errDoctor", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(out.String(), nw) {
					t.Errorf("output contains %q:\n%s", nw, out.String())
				}
			}
			if strings.Contains(out.String(), y360emu.TokenPrefix) {
				t.Error("doctor printed a token")
			}
			if tt.name == "everything works" {
				left, _ := os.ReadDir(filepath.Join(w.dir, "repo", "locks"))
				if len(left) != 0 {
					t.Errorf("the repository probe left %d object(s) behind", len(left))
				}
			}
		})
	}
}
