package disk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// A restore whose service application lacks the write scope stops at the
// first refusal and says what grants it, instead of failing every file
// with "403 Forbidden".
func TestRestoreWithoutWriteScopeSaysSetupRestore(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	n := seedCorpus(t, d, email)
	snap := d.backup(t)
	opts := d.opts(snap)
	opts.Tokens = func(u sources.User) sources.TokenSource {
		mint := func() string { return d.emu.MintToken(email, y360emu.DefaultScopes()...) } // read-only
		return &sourcetest.StaticTokens{Tok: mint(), Next: mint}
	}
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Failures, "\n")
	if rep.Written != 0 || !strings.Contains(all, "setup --restore") {
		t.Errorf("wrote %d; failures:\n%s", rep.Written, all)
	}
	if rep.Failed >= n {
		t.Errorf("%d failures for %d files: the restore should stop at the first refusal", rep.Failed, n)
	}
}
