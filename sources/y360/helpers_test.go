package y360_test

import (
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources/y360"
)

// env is an emulator plus a client configured for it, sharing a fake clock.
type env struct {
	emu *y360emu.Server
	c   *y360.Client
	clk *y360emu.FakeClock
	cfg y360.Config
}

func newEnv(t *testing.T, emuMod func(*y360emu.Options), cfgMod func(*y360.Config)) *env {
	t.Helper()
	clk := y360emu.NewFakeClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	o := y360emu.DefaultOrg()
	o.Key = []byte("y360-client-tests")
	o.Now = clk.Now
	if emuMod != nil {
		emuMod(&o)
	}
	emu := y360emu.New(o)
	base := emu.Start()
	t.Cleanup(emu.Close)
	cfg := y360.Config{
		OrgID: o.OrgID, AdminToken: o.AdminToken, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		APIBase: base, OAuthURL: emu.OAuthURL(),
		RPS: -1, MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Now: clk.Now,
	}
	if cfgMod != nil {
		cfgMod(&cfg)
	}
	c, err := y360.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, c: c, clk: clk, cfg: cfg}
}

// errorMustNotLeak fails if err's text contains any secret of the env or a token.
func (e *env) errorMustNotLeak(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, secret := range []string{e.cfg.AdminToken, e.cfg.ClientSecret, y360emu.TokenPrefix, "client_secret="} {
		if secret != "" && strings.Contains(msg, secret) {
			t.Errorf("error text leaks %q: %s", secret, msg)
		}
	}
}
