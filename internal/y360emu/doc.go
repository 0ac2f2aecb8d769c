// Package y360emu is an in-process emulator of the Yandex 360 HTTP APIs that
// have no open-source server, faithful to docs/yandex-api.md: the OAuth token
// exchange of service applications (POST /token), the Directory users list,
// service-application management, GET /whoami, and a token introspection
// endpoint (/introspect) in the shape Dovecot's oauth2 passdb expects, so real
// Dovecot and Radicale can accept the emulator's tokens.
//
// Tokens are opaque to clients but self-validating:
//
//	"y0_emu." + base64url(JSON Claims) + "." + base64url(HMAC-SHA256(key, <that base64>))
//
// The key comes from Options.Key, else $Y360_TEST_EMU_KEY, else the documented
// constant "y360emu-demo-key". Any two emulators with the same key accept each
// other's tokens: a test mints in-process while a standalone emulator (the
// `y360backup emulator` command, ListenAndServe) answers Dovecot's
// introspection calls in CI.
//
// Runtime switches (all safe for concurrent use): faults per path prefix
// (429 with or without Retry-After on every Nth or the next N requests, 5xx,
// latency, dropped connections), token lifetime, revoking every token,
// blocking users, the service-application list and feature state. Every
// request is counted per path (Count, Counts, Hits) so tests can assert
// request rates and retry counts.
//
// It is test and demo code: credentials are fixed strings, not secrets.
package y360emu
