package y360_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources/y360"
)

func TestServiceApps(t *testing.T) {
	e := newEnv(t, func(o *y360emu.Options) { o.FeatureInactive = true }, nil)
	ctx := context.Background()

	_, err := e.c.ListServiceApps(ctx)
	if err == nil || !strings.Contains(err.Error(), "feature is not active") || !strings.Contains(err.Error(), "list service applications") {
		t.Fatalf("inactive: %v", err)
	}
	if err := e.c.ActivateServiceApps(ctx); err != nil {
		t.Fatal(err)
	}
	apps, err := e.c.ListServiceApps(ctx)
	if err != nil || len(apps) != 1 || apps[0].ID != y360emu.DemoClientID {
		t.Fatalf("list: %+v %v", apps, err)
	}
	// Read, edit, write back (POST replaces the whole list).
	apps = append(apps, y360.ServiceApp{ID: "second-app", Scopes: []string{"calendar:all"}}, y360.ServiceApp{ID: "no-scopes"})
	if err := e.c.SetServiceApps(ctx, apps); err != nil {
		t.Fatal(err)
	}
	got, _ := e.c.ListServiceApps(ctx)
	if !reflect.DeepEqual(got, []y360.ServiceApp{apps[0], apps[1], {ID: "no-scopes", Scopes: []string{}}}) {
		t.Errorf("after set: %+v", got)
	}
	if err := e.c.DeactivateServiceApps(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.c.SetServiceApps(ctx, nil); err == nil {
		t.Error("set after deactivate succeeded")
	}
	if err := e.c.ClearServiceApps(ctx); err != nil {
		t.Fatal(err)
	}
	if len(e.emu.ServiceApps()) != 0 {
		t.Error("clear did not clear")
	}
}

func TestServiceAppsNotAnOwner(t *testing.T) {
	e := newEnv(t, func(o *y360emu.Options) { o.OwnerToken = "the-owner-token" }, nil)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"list":       func() error { _, err := e.c.ListServiceApps(ctx); return err },
		"set":        func() error { return e.c.SetServiceApps(ctx, nil) },
		"clear":      func() error { return e.c.ClearServiceApps(ctx) },
		"activate":   func() error { return e.c.ActivateServiceApps(ctx) },
		"deactivate": func() error { return e.c.DeactivateServiceApps(ctx) },
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), "403 Forbidden: Not an owner (code 7)") || !y360.IsPermanent(err) {
			t.Errorf("%s: %v", name, err)
		}
		e.errorMustNotLeak(t, err)
	}
}

func TestWhoami(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	id, err := e.c.Whoami(ctx)
	if err != nil || id.Login != "admin@demo.y360.test" || !id.HasScope("directory:read_users") ||
		!reflect.DeepEqual(id.OrgIDs, []string{y360emu.DemoOrgID}) {
		t.Fatalf("admin: %+v %v", id, err)
	}
	tok, err := e.c.Tokens(alice).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err = e.c.WhoamiToken(ctx, tok)
	if err != nil || id.Login != alice.Email || !id.HasScope("mail:imap_ro") || id.HasScope("directory:read_users") {
		t.Fatalf("user: %+v %v", id, err)
	}
	_, err = e.c.WhoamiToken(ctx, "garbage-token")
	if !y360.IsUnauthorized(err) || strings.Contains(err.Error(), "garbage-token") {
		t.Errorf("bad token: %v", err)
	}
}
