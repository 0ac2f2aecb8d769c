// Package testpeer is how tests find the real servers (Dovecot, Radicale,
// S3, system tools) that scripts/peers-up.sh starts: a missing one skips the
// test on a developer's machine and fails it in CI, where
// Y360_TEST_REQUIRE_PEERS=1 says every peer must be there.
package testpeer

import (
	"os"
	"testing"
)

// Required reports whether missing peers must fail tests (CI).
func Required() bool { return os.Getenv("Y360_TEST_REQUIRE_PEERS") == "1" }

// Missing skips t, or fails it when peers are required; what names the
// peer and how to get it.
func Missing(t testing.TB, what string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s, but Y360_TEST_REQUIRE_PEERS=1", what)
	}
	t.Skip(what + " (run scripts/test.sh, or scripts/peers-up.sh and source its env.sh)")
}

// Env returns the environment variable name, or calls Missing when unset.
func Env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, name+" is not set")
	}
	return v
}
