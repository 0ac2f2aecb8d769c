package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Restore speaks IMAP by hand on the logged-in connection (login.go does the
// login phase), not through imapclient, because imapclient v2.0.0-beta.8
// sends every literal above 4 KB synchronously even when the server
// advertises LITERAL+, which costs one round trip more per message; by hand,
// APPENDs are also pipelined, and a literal whose source turns out corrupt
// halfway is abandoned before its last byte (see restore_body.go). Only what
// restore needs is here: tagged commands, continuation requests, status
// responses, and FETCH data with UID, RFC822.SIZE, INTERNALDATE, FLAGS,
// ENVELOPE and BODY[]. The parser is in wire_parse.go and wire_fetch.go.

// wconn is a logged-in connection driven by hand.
type wconn struct {
	dc     *deadlineConn
	stop   func() bool // stops the ctx watcher
	br     *bufio.Reader
	bw     *bufio.Writer
	caps   string   // post-login capabilities
	listed []folder // LIST "" "*" at login, \Noselect names included
	tag    int
	broken bool
}

// dialWire connects and logs in (with LIST) for a hand-driven session; the
// connection is closed as soon as ctx is done.
func dialWire(ctx context.Context, cfg Config, email, token string, wrap func(net.Conn) net.Conn) (*wconn, error) {
	lc, err := dialLogin(ctx, cfg, email, token, true, wrap)
	if err != nil {
		return nil, err
	}
	lr := lc.res
	c := &wconn{
		dc:     lc.dc,
		stop:   lc.stop,
		br:     bufio.NewReaderSize(io.MultiReader(strings.NewReader(lr.buffered), lr.conn), 64<<10),
		bw:     bufio.NewWriterSize(lr.conn, 64<<10),
		caps:   lr.caps,
		listed: lr.listed,
	}
	// Every read and write must progress within cfg.Timeout from now on:
	// the session always waits for an answer or sends a command.
	c.dc.begin()
	if c.caps == "" {
		if err := c.capability(); err != nil {
			c.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
	}
	return c, nil
}

// fail marks the connection unusable and wraps err as a connError.
func (c *wconn) fail(err error) error {
	c.broken = true
	if isConnErr(err) {
		return err
	}
	return &connError{err}
}

// close drops the connection.
func (c *wconn) close() {
	c.broken = true
	c.stop()
	c.dc.Conn.Close()
}

// logout ends a healthy session politely, then closes it.
func (c *wconn) logout() {
	if !c.broken {
		if tag, err := c.command("LOGOUT"); err == nil {
			c.wait(tag, nil)
		}
	}
	c.close()
}

func (c *wconn) hasCap(name string) bool { return hasCap(c.caps, name) }

// capValue returns the value of a "NAME=value" capability.
func (c *wconn) capValue(name string) (string, bool) {
	for _, f := range strings.Fields(c.caps) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func (c *wconn) nextTag() string {
	c.tag++
	return "R" + strconv.Itoa(c.tag)
}

// command sends one command line (without tag and CRLF) in one write.
func (c *wconn) command(line string) (string, error) {
	tag := c.nextTag()
	c.bw.WriteString(tag)
	c.bw.WriteByte(' ')
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	if err := c.bw.Flush(); err != nil {
		return "", c.fail(err)
	}
	return tag, nil
}

// wait reads responses until the tagged one for tag; untagged responses go
// to untagged (if not nil). A NO or BAD answer is returned as *imap.Error; a
// BYE or an unexpected continuation request breaks the connection.
func (c *wconn) wait(tag string, untagged func(*resp) error) (*resp, error) {
	for {
		r, err := c.read()
		if err != nil {
			return nil, err
		}
		switch {
		case r.tag == tag:
			return r, r.err()
		case r.tag == "+":
			return nil, c.fail(errors.New("unexpected continuation request"))
		case r.tag != "*":
			return nil, c.fail(fmt.Errorf("answer for unknown tag %q", printable(r.tag, 20)))
		case r.status == "BYE":
			return nil, c.fail(fmt.Errorf("server closed the session: %s", printable(r.text, 200)))
		case untagged != nil:
			if err := untagged(r); err != nil {
				return nil, err
			}
		}
	}
}

// read reads one response. FETCH bodies are hashed as they stream by (see
// parseFetch); nothing is buffered beyond maxResponse bytes.
func (c *wconn) read() (*resp, error) {
	p := &parser{br: c.br, budget: maxResponse}
	r, err := p.response()
	if err != nil {
		return nil, c.fail(fmt.Errorf("reading response: %w", err))
	}
	return r, nil
}

// simple runs a command without untagged data of interest.
func (c *wconn) simple(line string) error {
	tag, err := c.command(line)
	if err != nil {
		return err
	}
	_, err = c.wait(tag, nil)
	return err
}

// capability asks for the capability list (for servers that do not announce
// it after login).
func (c *wconn) capability() error {
	tag, err := c.command("CAPABILITY")
	if err != nil {
		return err
	}
	_, err = c.wait(tag, func(r *resp) error {
		if r.kind == "CAPABILITY" {
			var f []string
			for _, v := range r.args {
				f = append(f, v.s)
			}
			c.caps = strings.Join(f, " ")
		}
		return nil
	})
	if err == nil && c.caps == "" {
		err = c.fail(errors.New("no capability list"))
	}
	return err
}

// mailboxArg renders a wire mailbox name as a command argument.
func mailboxArg(wire string) (string, error) {
	if strings.EqualFold(wire, "INBOX") {
		return "INBOX", nil
	}
	q, ok := quoteArg(wire)
	if !ok {
		// A name from LIST with 8-bit bytes (a server that sends UTF-8):
		// go out as modified UTF-7, which such servers also accept.
		if q, ok = quoteArg(encodeMailbox(wire)); !ok {
			return "", fmt.Errorf("folder name %q cannot be sent", printable(wire, 100))
		}
	}
	return q, nil
}

// selected is what SELECT said about the destination folder.
type selected struct {
	exists      uint32
	uidValidity uint32
	perm        permFlags
}

// permFlags is a folder's PERMANENTFLAGS.
type permFlags struct {
	known    bool            // the server sent PERMANENTFLAGS
	any      bool            // \* : new keywords may be created
	keywords map[string]bool // listed keywords, lower case
}

// allows reports whether a keyword can be stored in the folder. Without
// PERMANENTFLAGS every flag is taken as permanent (RFC 3501 7.1).
func (p permFlags) allows(keyword string) bool {
	return !p.known || p.any || p.keywords[strings.ToLower(keyword)]
}

// selectBox opens the destination read-write.
func (c *wconn) selectBox(wire string) (selected, error) {
	var sel selected
	arg, err := mailboxArg(wire)
	if err != nil {
		return sel, err
	}
	tag, err := c.command("SELECT " + arg)
	if err != nil {
		return sel, err
	}
	r, err := c.wait(tag, func(r *resp) error {
		switch {
		case r.kind == "EXISTS":
			sel.exists = r.num
		case r.status == "OK":
			name, args, _ := strings.Cut(r.code, " ")
			switch strings.ToUpper(name) {
			case "UIDVALIDITY":
				v, _ := strconv.ParseUint(args, 10, 32)
				sel.uidValidity = uint32(v)
			case "PERMANENTFLAGS":
				sel.perm = parsePermFlags(args)
			}
		}
		return nil
	})
	if err != nil {
		return sel, err
	}
	if name, _, _ := strings.Cut(r.code, " "); strings.EqualFold(name, "READ-ONLY") {
		return sel, errors.New("the folder can only be opened read-only")
	}
	return sel, nil
}

func parsePermFlags(s string) permFlags {
	p := permFlags{known: true, keywords: map[string]bool{}}
	for _, f := range strings.Fields(strings.Trim(s, "()")) {
		switch {
		case f == `\*`:
			p.any = true
		case !strings.HasPrefix(f, `\`):
			p.keywords[strings.ToLower(f)] = true
		}
	}
	return p
}

// create creates a folder; one that exists already is fine.
func (c *wconn) create(wire string) error {
	arg, err := mailboxArg(wire)
	if err != nil {
		return err
	}
	err = c.simple("CREATE " + arg)
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return err
}
