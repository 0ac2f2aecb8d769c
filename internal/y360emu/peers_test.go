package y360emu

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"github.com/y360backup/y360backup/internal/testpeer"
	"net"
	"strings"
	"testing"
	"time"
)

// peerAddr returns the address in env var name, skipping the test when it is
// unset unless Y360_TEST_REQUIRE_PEERS=1 (CI), where a missing peer fails.
func peerAddr(t *testing.T, name string) string { t.Helper(); return testpeer.Env(t, name) }

// xoauth2 logs in to a plain-IMAP server with AUTHENTICATE XOAUTH2 (SASL-IR)
// and returns the tagged status line.
func xoauth2(t *testing.T, addr, user, token string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // greeting
		t.Fatal(err)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
	if _, err := fmt.Fprintf(conn, "a AUTHENTICATE XOAUTH2 %s\r\n", ir); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(line, "+"): // XOAUTH2 error challenge: answer empty
			_, _ = conn.Write([]byte("\r\n"))
		case strings.HasPrefix(line, "a "):
			return strings.TrimSpace(line)
		}
	}
}

// A token minted by this in-process emulator is accepted by the real Dovecot,
// which asks the standalone emulator (same Y360_TEST_EMU_KEY) to introspect it.
func TestDovecotAcceptsEmulatorTokens(t *testing.T) {
	addr := peerAddr(t, "Y360_TEST_DOVECOT_ADDR")
	s := New(DefaultOrg()) // key from Y360_TEST_EMU_KEY, like the standalone emulator
	user := fmt.Sprintf("emu-peer-%d@demo.y360.test", time.Now().UnixNano())
	other := "someone-else-" + user

	if got := xoauth2(t, addr, user, s.MintToken(user)); !strings.HasPrefix(got, "a OK") {
		t.Errorf("valid token: %s", got)
	}
	if got := xoauth2(t, addr, user, s.MintToken(other)); !strings.HasPrefix(got, "a NO") {
		t.Errorf("another user's token: %s", got)
	}
	wrongKey := New(Options{Key: []byte("not-the-shared-key")})
	if got := xoauth2(t, addr, user, wrongKey.MintToken(user)); !strings.HasPrefix(got, "a NO") {
		t.Errorf("token signed with another key: %s", got)
	}
}
