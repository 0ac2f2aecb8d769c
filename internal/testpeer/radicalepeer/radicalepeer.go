// Package radicalepeer holds test helpers for the Radicale peer that
// scripts/peers-up.sh starts (CalDAV and CardDAV).
package radicalepeer

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/testpeer"
	"github.com/y360backup/y360backup/internal/y360emu"
)

// URL returns Y360_TEST_RADICALE_URL with one trailing slash, or skips
// (fails under Y360_TEST_REQUIRE_PEERS=1).
func URL(t testing.TB) string {
	t.Helper()
	return strings.TrimSuffix(testpeer.Env(t, "Y360_TEST_RADICALE_URL"), "/") + "/"
}

// Token is the one place that knows how Radicale's auth plugin
// checks passwords: at the introspection endpoint of the standalone
// emulator, which accepts tokens minted in-process with the same
// Y360_TEST_EMU_KEY; the fallback scripts/peers/introspect.py accepts
// "valid-<email>". The first candidate Radicale accepts wins.
func Token(t testing.TB, base, email string) string {
	t.Helper()
	var cands []string
	if os.Getenv(y360emu.EnvKey) != "" {
		cands = append(cands, y360emu.New(y360emu.Options{}).MintToken(email))
	}
	cands = append(cands, "valid-"+email)
	for _, tok := range cands {
		req, _ := http.NewRequest("PROPFIND", base, strings.NewReader(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>`))
		req.Header.Set("Depth", "0")
		req.SetBasicAuth(email, tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("radicale: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusMultiStatus {
			return tok
		}
	}
	t.Fatalf("radicale at %s accepts none of the %d candidate tokens for %s", base, len(cands), email)
	return ""
}
