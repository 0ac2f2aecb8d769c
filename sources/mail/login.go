package mail

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
)

// The phase before login is done by hand, not by imapclient, because
// imapclient (v2.0.0-beta.8) encodes an empty SASL continuation response as
// "=", which Dovecot answers with BAD instead of NO [AUTHENTICATIONFAILED];
// doing it here also guarantees that every command line goes out in one write
// and lets us skip the CAPABILITY round trip when it is not needed. After a
// successful AUTHENTICATE the connection is handed to imapclient behind a
// synthetic "* PREAUTH [CAPABILITY ...]" greeting (see dial).

// maxLine bounds a pre-login response line; longer means a broken server.
const maxLine = 16 << 10

// loginConn speaks just enough IMAP for greeting, CAPABILITY, STARTTLS and
// AUTHENTICATE.
type loginConn struct {
	conn net.Conn
	br   *bufio.Reader
	tag  int
}

// refusedError is a NO answer to AUTHENTICATE (token refused).
type refusedError struct {
	code, text string
	challenge  *xoauth2Error // the server's XOAUTH2 error, if it sent one
}

func (e *refusedError) Error() string {
	s := "NO"
	if e.code != "" {
		s += " [" + e.code + "]"
	}
	if e.text != "" {
		s += " " + e.text
	}
	if e.challenge != nil {
		s += " (XOAUTH2 " + e.challenge.Error() + ")"
	}
	return s
}

func newLoginConn(c net.Conn) *loginConn {
	return &loginConn{conn: c, br: bufio.NewReaderSize(c, maxLine)}
}

func (l *loginConn) readLine() (string, error) {
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("response line longer than %d bytes", maxLine)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// send writes one command line, CRLF included, in a single Write.
func (l *loginConn) send(line string) error {
	_, err := io.WriteString(l.conn, line+"\r\n")
	return err
}

func (l *loginConn) nextTag() string {
	l.tag++
	return fmt.Sprintf("L%d", l.tag)
}

// greeting reads the server greeting and returns its capabilities, if the
// greeting carried them ("" otherwise).
func (l *loginConn) greeting() (caps string, err error) {
	line, err := l.readLine()
	if err != nil {
		return "", fmt.Errorf("reading greeting: %w", err)
	}
	up := strings.ToUpper(line)
	switch {
	case strings.HasPrefix(up, "* OK"):
		_, code, _ := parseStatus(line[len("* "):])
		return capsFromCode(code), nil
	case strings.HasPrefix(up, "* BYE"):
		return "", fmt.Errorf("server refused the connection: %q", printable(line, 200))
	case strings.HasPrefix(up, "* PREAUTH"):
		return "", errors.New("server sent PREAUTH; refusing an unauthenticated session")
	}
	return "", fmt.Errorf("not an IMAP server: unexpected greeting %q", printable(line, 100))
}

// capability runs CAPABILITY and returns the list.
func (l *loginConn) capability() (string, error) {
	tag := l.nextTag()
	if err := l.send(tag + " CAPABILITY"); err != nil {
		return "", err
	}
	var caps string
	for {
		line, err := l.readLine()
		if err != nil {
			return "", fmt.Errorf("reading CAPABILITY response: %w", err)
		}
		if c, ok := untaggedCaps(line); ok {
			caps = c
			continue
		}
		if strings.HasPrefix(line, tag+" ") {
			status, _, text := parseStatus(line[len(tag)+1:])
			if status != "OK" {
				return "", fmt.Errorf("CAPABILITY: %s %s", status, printable(text, 200))
			}
			return caps, nil
		}
		if !strings.HasPrefix(line, "* ") {
			return "", fmt.Errorf("unexpected response %q", printable(line, 100))
		}
	}
}

// startTLS upgrades the connection; the caller must ask for capabilities again.
func (l *loginConn) startTLS(cfg *tls.Config) error {
	tag := l.nextTag()
	if err := l.send(tag + " STARTTLS"); err != nil {
		return err
	}
	for {
		line, err := l.readLine()
		if err != nil {
			return fmt.Errorf("reading STARTTLS response: %w", err)
		}
		if !strings.HasPrefix(line, tag+" ") {
			continue
		}
		if status, _, text := parseStatus(line[len(tag)+1:]); status != "OK" {
			return fmt.Errorf("STARTTLS: %s %s", status, printable(text, 200))
		}
		break
	}
	if l.br.Buffered() > 0 {
		// Bytes after the OK were sent in plaintext: classic STARTTLS injection.
		return errors.New("STARTTLS: server sent data before the TLS handshake")
	}
	tc := tls.Client(l.conn, cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	l.conn = tc
	l.br = bufio.NewReaderSize(tc, maxLine)
	return nil
}

// authenticate runs AUTHENTICATE with client. With SASL-IR the initial
// response rides on the command line. It returns the capabilities the
// server announced on success ("" if none).
func (l *loginConn) authenticate(client sasl.Client, saslIR bool) (caps string, err error) {
	mech, ir, err := client.Start()
	if err != nil {
		return "", err
	}
	tag := l.nextTag()
	cmd := tag + " AUTHENTICATE " + mech
	if ir != nil && saslIR {
		cmd += " " + encodeSASL(ir)
		ir = nil
	}
	if err := l.send(cmd); err != nil {
		return "", err
	}
	var challenged *xoauth2Error
	for {
		line, err := l.readLine()
		if err != nil {
			return "", fmt.Errorf("reading AUTHENTICATE response: %w", err)
		}
		switch {
		case strings.HasPrefix(line, "+"):
			text := strings.TrimSpace(line[1:])
			var resp []byte
			if text == "" && ir != nil {
				resp, ir = ir, nil
			} else {
				challenge, err := base64.StdEncoding.DecodeString(text)
				if err != nil {
					l.send("*") // cancel the exchange
					return "", fmt.Errorf("AUTHENTICATE: undecodable challenge %q", printable(text, 100))
				}
				if resp, err = client.Next(challenge); err != nil {
					l.send("*")
					return "", err
				}
				if x, ok := client.(*xoauth2Client); ok {
					challenged = x.serverErr
				}
			}
			// An empty response is an empty line (not "=", which is only for
			// an empty initial response on the command line).
			if err := l.send(base64.StdEncoding.EncodeToString(resp)); err != nil {
				return "", err
			}
		case strings.HasPrefix(line, "* "):
			if c, ok := untaggedCaps(line); ok {
				caps = c
			}
		case strings.HasPrefix(line, tag+" "):
			status, code, text := parseStatus(line[len(tag)+1:])
			switch {
			case status == "OK":
				if c := capsFromCode(code); c != "" {
					caps = c
				}
				return caps, nil
			case status == "NO" && challenged == nil && strings.EqualFold(strings.Fields(code + " x")[0], "UNAVAILABLE"):
				// RFC 5530: a temporary failure, not a refused token (retried).
				return "", fmt.Errorf("AUTHENTICATE: %w %s", errUnavailable, printable(text, 200))
			case status == "NO" || challenged != nil:
				// A server that sent an XOAUTH2 error challenge has refused
				// the token whatever the final status says.
				return "", &refusedError{code: printable(code, 100), text: printable(text, 200), challenge: challenged}
			default:
				return "", fmt.Errorf("AUTHENTICATE %s: %s %s", mech, status, printable(text, 200))
			}
		default:
			return "", fmt.Errorf("unexpected response %q", printable(line, 100))
		}
	}
}

func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// parseStatus splits "OK [CODE args] text" into its parts.
func parseStatus(s string) (status, code, text string) {
	status, rest, _ := strings.Cut(s, " ")
	status = strings.ToUpper(status)
	rest = strings.TrimLeft(rest, " ")
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			code, rest = rest[1:end], strings.TrimLeft(rest[end+1:], " ")
		}
	}
	return status, code, rest
}

func capsFromCode(code string) string {
	if name, args, ok := strings.Cut(code, " "); ok && strings.EqualFold(name, "CAPABILITY") {
		return strings.TrimSpace(args)
	}
	return ""
}

func untaggedCaps(line string) (string, bool) {
	const prefix = "* CAPABILITY "
	if len(line) >= len(prefix) && strings.EqualFold(line[:len(prefix)], prefix) {
		return strings.TrimSpace(line[len(prefix):]), true
	}
	return "", false
}

// hasCap reports whether a space-separated capability list has c.
func hasCap(caps, c string) bool {
	for _, f := range strings.Fields(caps) {
		if strings.EqualFold(f, c) {
			return true
		}
	}
	return false
}
