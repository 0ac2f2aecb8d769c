package mail

import (
	"bufio"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestXOAUTH2ClientEncoding(t *testing.T) {
	c := &xoauth2Client{user: "alice@example.org", token: "ya29.TOKEN"}
	mech, ir, err := c.Start()
	if err != nil || mech != "XOAUTH2" {
		t.Fatalf("Start = %q, %v", mech, err)
	}
	if want := "user=alice@example.org\x01auth=Bearer ya29.TOKEN\x01\x01"; string(ir) != want {
		t.Fatalf("initial response = %q, want %q", ir, want)
	}
	// What goes over the wire (RFC 4648 base64, as Google/Yandex document it).
	if got, want := encodeSASL(ir), "dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciB5YTI5LlRPS0VOAQE="; got != want {
		t.Fatalf("base64 = %s, want %s", got, want)
	}
}

func TestXOAUTH2ClientChallenge(t *testing.T) {
	tests := []struct {
		challenge string
		want      string
	}{
		{`{"status":"401","schemes":"bearer","scope":"mail"}`, "status 401, scope mail, schemes bearer"},
		{`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`, "status 400, scope https://mail.google.com/, schemes Bearer"},
		{"not json at all", `server challenge "not json at all"`},
		{`{"status":"401\u0007"}`, "status 401?"},                            // control characters never reach our errors
		{"{\"status\":\"4\x07\"}", `server challenge "{\"status\":\"4?\"}"`}, // (raw ones make invalid JSON)
	}
	for _, tt := range tests {
		c := &xoauth2Client{user: "u", token: "t"}
		resp, err := c.Next([]byte(tt.challenge))
		if err != nil {
			t.Fatalf("Next(%q) error %v", tt.challenge, err)
		}
		if resp == nil || len(resp) != 0 {
			t.Fatalf("Next(%q) = %q, want an empty (non-nil) response", tt.challenge, resp)
		}
		if c.serverErr == nil || c.serverErr.Error() != tt.want {
			t.Fatalf("Next(%q) recorded %v, want %q", tt.challenge, c.serverErr, tt.want)
		}
	}
}

// script is a fake IMAP server side: each step either sends a line ("S: ")
// or expects the next client line ("C: ", compared exactly, CRLF excluded).
// Every client line must arrive in one Write: a line split over writes is a
// latency bug (Nagle + delayed ACK), so the fake reads Writes, not lines.
func runScript(t *testing.T, steps []string, client func(net.Conn) error) error {
	t.Helper()
	cl, srv := net.Pipe()
	done := make(chan error, 1)
	go func() {
		defer srv.Close()
		buf := make([]byte, 64<<10)
		for _, step := range steps {
			switch {
			case strings.HasPrefix(step, "S: "):
				if _, err := srv.Write([]byte(step[3:] + "\r\n")); err != nil {
					done <- err
					return
				}
			case strings.HasPrefix(step, "C: "):
				srv.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := srv.Read(buf)
				if err != nil {
					done <- err
					return
				}
				if got, want := string(buf[:n]), step[3:]+"\r\n"; got != want {
					done <- errors.New("client wrote " + strings.TrimSpace(got) + ", want " + step[3:])
					return
				}
			}
		}
		done <- nil
	}()
	err := client(cl)
	cl.Close()
	if serr := <-done; serr != nil {
		t.Fatalf("fake server: %v", serr)
	}
	return err
}

func TestLoginConversations(t *testing.T) {
	ir := encodeSASL([]byte("user=a@x\x01auth=Bearer T0K\x01\x01"))
	challenge := base64.StdEncoding.EncodeToString([]byte(`{"status":"401","schemes":"bearer","scope":"mail"}`))
	tests := []struct {
		name      string
		steps     []string
		wantCaps  string
		wantErr   string
		refused   bool
		challenge bool
	}{
		{
			name: "SASL-IR in greeting: one line",
			steps: []string{
				"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
				"C: L1 AUTHENTICATE XOAUTH2 " + ir,
				"S: L1 OK [CAPABILITY IMAP4rev1 CONDSTORE] Logged in",
			},
			wantCaps: "IMAP4rev1 CONDSTORE",
		},
		{
			name: "Yandex: no caps in greeting, no SASL-IR",
			steps: []string{
				"S: * OK Yandex IMAP4rev1 at mxback.yandex.net:993 ready to talk",
				"C: L1 AUTHENTICATE XOAUTH2",
				"S: + ",
				"C: " + ir,
				"S: * CAPABILITY IMAP4rev1 CHILDREN UNSELECT LITERAL+ NAMESPACE XLIST UIDPLUS ENABLE ID IDLE MOVE",
				"S: L1 OK AUTHENTICATE Completed.",
			},
			wantCaps: "IMAP4rev1 CHILDREN UNSELECT LITERAL+ NAMESPACE XLIST UIDPLUS ENABLE ID IDLE MOVE",
		},
		{
			name: "refused with JSON challenge: empty line, then NO",
			steps: []string{
				"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
				"C: L1 AUTHENTICATE XOAUTH2 " + ir,
				"S: + " + challenge,
				"C: ",
				"S: L1 NO [AUTHENTICATIONFAILED] Invalid credentials or IMAP is disabled",
			},
			refused: true, challenge: true, wantErr: "NO [AUTHENTICATIONFAILED] Invalid credentials or IMAP is disabled (XOAUTH2 status 401, scope mail, schemes bearer)",
		},
		{
			name: "refused without challenge",
			steps: []string{
				"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
				"C: L1 AUTHENTICATE XOAUTH2 " + ir,
				"S: L1 NO [AUTHENTICATIONFAILED] Authentication failed.",
			},
			refused: true, wantErr: "NO [AUTHENTICATIONFAILED]",
		},
		{
			name: "BAD after a challenge still counts as refused",
			steps: []string{
				"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
				"C: L1 AUTHENTICATE XOAUTH2 " + ir,
				"S: + " + challenge,
				"C: ",
				"S: L1 BAD Invalid base64 data in continued response",
			},
			refused: true, challenge: true, wantErr: "status 401",
		},
		{
			name: "BAD without challenge is a protocol error",
			steps: []string{
				"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
				"C: L1 AUTHENTICATE XOAUTH2 " + ir,
				"S: L1 BAD unknown mechanism",
			},
			wantErr: "AUTHENTICATE XOAUTH2: BAD unknown mechanism",
		},
		{
			name:    "no XOAUTH2 offered",
			steps:   []string{"S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready"},
			wantErr: "does not offer AUTH=XOAUTH2",
		},
		{
			name:    "not IMAP",
			steps:   []string{"S: SSH-2.0-OpenSSH_9.2p1"},
			wantErr: `not an IMAP server: unexpected greeting "SSH-2.0-OpenSSH_9.2p1"`,
		},
		{
			name:    "BYE greeting",
			steps:   []string{"S: * BYE too many connections"},
			wantErr: "refused the connection",
		},
		{
			name: "undecodable challenge cancels",
			steps: []string{
				"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
				"C: L1 AUTHENTICATE XOAUTH2 " + ir,
				"S: + !!!notbase64",
				"C: *",
			},
			wantErr: "undecodable challenge",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var caps string
			err := runScript(t, tt.steps, func(c net.Conn) error {
				var err error
				var res loginResult
				res, err = login(Config{Security: SecurityPlain}, c, "a@x", "T0K", false)
				caps = res.caps
				return err
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if caps != tt.wantCaps {
					t.Fatalf("caps = %q, want %q", caps, tt.wantCaps)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "T0K") {
				t.Fatalf("error leaks the token: %v", err)
			}
			var refused *refusedError
			if got := errors.As(err, &refused); got != tt.refused {
				t.Fatalf("refused = %v, want %v (%v)", got, tt.refused, err)
			}
			if tt.refused && (refused.challenge != nil) != tt.challenge {
				t.Fatalf("challenge recorded = %v, want %v", refused.challenge, tt.challenge)
			}
		})
	}
}

func TestLoginLongLine(t *testing.T) {
	cl, srv := net.Pipe()
	go func() {
		w := bufio.NewWriter(srv)
		w.WriteString("* OK ")
		w.WriteString(strings.Repeat("x", maxLine+10))
		w.Flush()
		srv.Close()
	}()
	_, err := login(Config{Security: SecurityPlain}, cl, "a@x", "t", false)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("error = %v", err)
	}
}
