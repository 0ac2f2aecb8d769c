package y360_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// Every failure path the client has, checked in one place: no admin token,
// client secret or minted token ever appears in an error string.
func TestNoSecretInAnyError(t *testing.T) {
	const adminTok, secret = "ADMIN-TOKEN-do-not-print", "CLIENT-SECRET-do-not-print"
	e := newEnv(t, func(o *y360emu.Options) {
		o.AdminToken, o.ClientSecret, o.OwnerToken = adminTok, secret, "owner"
	}, nil)
	ctx := context.Background()
	minted, err := e.c.Tokens(alice).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	badSecret, _ := y360.New(func() y360.Config { c := e.cfg; c.ClientSecret = secret + "-wrong"; return c }())
	badAdmin, _ := y360.New(func() y360.Config { c := e.cfg; c.AdminToken = adminTok + "-wrong"; return c }())
	dead, _ := y360.New(func() y360.Config {
		c := e.cfg
		c.APIBase, c.OAuthURL, c.MaxRetries = "http://127.0.0.1:1", "http://127.0.0.1:1/token", -1
		return c
	}())
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	var errs []error
	add := func(err error) {
		if err == nil {
			t.Errorf("case %d did not fail", len(errs))
		}
		errs = append(errs, err)
	}
	_, err = badSecret.ExchangeToken(ctx, alice)
	add(err)
	_, err = e.c.ExchangeToken(ctx, mallory)
	add(err)
	add(badAdmin.ListUsers(ctx, func(sources.User) error { return nil }))
	_, err = e.c.ListServiceApps(ctx)
	add(err)
	_, err = e.c.WhoamiToken(ctx, minted+"x")
	add(err)
	_, err = dead.ExchangeToken(ctx, alice)
	add(err)
	add(dead.ListUsers(ctx, func(sources.User) error { return nil }))
	_, err = e.c.Tokens(mallory).Token(cancelled)
	add(err)
	e.emu.FailNext("/token", 503, 10)
	_, err = e.c.ExchangeToken(ctx, sources.User{ID: "1130000000000002"})
	add(err)
	e.emu.ClearFaults()
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Millisecond)
	e.emu.Slow("/token", 200*time.Millisecond)
	_, err = e.c.Tokens(sources.User{ID: "1130000000000003"}).Token(tctx)
	tcancel()
	add(err)

	for i, err := range errs {
		if err == nil {
			continue
		}
		msg := fmt.Sprintf("%v %+v %#v", err, err, err)
		for _, s := range []string{adminTok, secret, minted, y360emu.TokenPrefix, "client_secret="} {
			if strings.Contains(msg, s) {
				t.Errorf("error %d leaks %q: %s", i, s, err)
			}
		}
		var ae *y360.APIError
		if errors.As(err, &ae) && ae.Error() == "" {
			t.Errorf("error %d has empty text", i)
		}
	}
}
