package mail

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestProbeDemo(t *testing.T) {
	srv := startDemo(t, nil)
	cfg := Config{Addr: srv.Addr(), Security: SecurityPlain}
	email := "probe@example.org"
	n, err := Probe(context.Background(), cfg, testUser(email), tokensFor(email))
	if err != nil || n != 6 { // INBOX and the five Yandex folders
		t.Fatalf("Probe = %d, %v; want 6 folders", n, err)
	}
	if st := srv.Stats(); st.Logins != 1 || st.Selects != 0 {
		t.Fatalf("Probe did more than log in and list: %+v", st)
	}

	tok := &sourcetest.StaticTokens{Tok: "SECRET-a", Next: func() string { return "SECRET-b" }}
	_, err = Probe(context.Background(), cfg, testUser(email), tok)
	if !errors.Is(err, sources.ErrUnauthorized) || !strings.Contains(err.Error(), "AUTHENTICATIONFAILED") ||
		strings.Contains(err.Error(), "SECRET") || tok.Invalidated != 2 {
		t.Fatalf("refused token: %v (invalidated %d times)", err, tok.Invalidated)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Probe(context.Background(), Config{Addr: addr, Security: SecurityPlain}, testUser(email), tokensFor(email))
	if err == nil || !strings.Contains(err.Error(), addr) || errors.Is(err, sources.ErrUnauthorized) {
		t.Fatalf("unreachable server: %v", err)
	}
	if _, err := Probe(context.Background(), cfg, sources.User{ID: "7"}, tokensFor(email)); err == nil {
		t.Fatal("a user without email was probed")
	}
}
