package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// session is one authenticated IMAP connection.
type session struct {
	cl     *imapclient.Client
	dc     *deadlineConn
	stop   func() bool // stops the ctx watcher
	caps   imap.CapSet
	broken bool // the connection failed; the session must be dropped
	// cutLiteral: a body literal ended with an I/O error or early EOF.
	// imapclient's reader then fails on its own, and draining the command
	// would re-read that literal concurrently with it (see abandon).
	cutLiteral bool
	folders    []folder // LIST result when dialled with list
}

// connError marks an error of the IMAP connection itself (I/O failure,
// timeout, undecodable response): the session is unusable and a reconnect
// may help. NO/BAD answers are *imap.Error and not wrapped in connError.
type connError struct{ err error }

func (e *connError) Error() string { return "connection failed: " + e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func isConnErr(err error) bool {
	var ce *connError
	return errors.As(err, &ce)
}

// check classifies the result of an imapclient command.
func (s *session) check(err error) error {
	if err == nil {
		return nil
	}
	var imapErr *imap.Error
	if errors.As(err, &imapErr) {
		return err
	}
	s.broken = true
	return &connError{err}
}

// dial connects, logs in with token and returns a session whose connection is
// closed as soon as ctx is done (go-imap has no context support). With list,
// the folders are listed before imapclient takes over (see list.go) and kept
// in session.folders.
func dial(ctx context.Context, cfg Config, email, token string, list bool, wrap func(net.Conn) net.Conn) (*session, error) {
	lc, err := dialLogin(ctx, cfg, email, token, list, wrap)
	if err != nil {
		return nil, err
	}
	lr, dc := lc.res, lc.dc
	// Hand the logged-in connection to imapclient behind a PREAUTH greeting
	// that carries the post-login capabilities (if the server told us).
	greeting := "* PREAUTH y360backup: logged in\r\n"
	if lr.caps != "" {
		greeting = "* PREAUTH [CAPABILITY " + lr.caps + "] y360backup: logged in\r\n"
	}
	pc := &prefixConn{Conn: lr.conn, r: newLineCap(io.MultiReader(strings.NewReader(greeting), strings.NewReader(lr.buffered), lr.conn), maxRespLine)}
	s := &session{cl: imapclient.New(pc, nil), dc: dc, stop: lc.stop, folders: lr.folders}
	dc.begin()
	err = s.cl.WaitGreeting()
	if err == nil {
		// Caps sends CAPABILITY if the server did not announce them.
		if s.caps = s.cl.Caps(); s.caps == nil {
			err = errors.New("no capability list")
		}
	}
	dc.end()
	if err != nil {
		s.cl.Close()
		return lc.fail(ctx, &connError{fmt.Errorf("%s: after login: %w", cfg.Addr, err)})
	}
	return s, nil
}

// loggedIn is a connection right after login, before anyone speaks IMAP on it.
type loggedIn struct {
	res  loginResult
	dc   *deadlineConn
	stop func() bool // stops the ctx watcher
}

// fail closes the connection and returns err (ctx's error if ctx is done).
func (lc *loggedIn) fail(ctx context.Context, err error) (*session, error) {
	lc.stop()
	lc.dc.Conn.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, err
}

// dialLogin connects and logs in (see login). The connection is closed as
// soon as ctx is done. A refused token gives a *refusedError, other failures
// a *connError.
func dialLogin(ctx context.Context, cfg Config, email, token string, list bool, wrap func(net.Conn) net.Conn) (*loggedIn, error) {
	d := net.Dialer{Timeout: cfg.Timeout}
	raw, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, &connError{fmt.Errorf("connect %s: %w", cfg.Addr, err)}
	}
	if wrap != nil {
		raw = wrap(raw)
	}
	dc := newDeadlineConn(raw, cfg.Timeout)
	lc := &loggedIn{dc: dc, stop: context.AfterFunc(ctx, func() { dc.Conn.Close() })}
	dc.begin()
	lc.res, err = login(cfg, dc, email, token, list)
	dc.end()
	if err != nil {
		var refused *refusedError
		if !errors.As(err, &refused) {
			err = &connError{fmt.Errorf("%s: %w", cfg.Addr, err)}
		}
		_, err = lc.fail(ctx, err)
		return nil, err
	}
	return lc, nil
}

// loginResult is what login hands on to imapclient.
type loginResult struct {
	conn     net.Conn // TLS or not, to use from now on
	caps     string   // post-login capabilities, if announced
	buffered string   // bytes already read past the last response
	folders  []folder // selectable folders of the LIST result, if asked for
	listed   []folder // the whole LIST result, \Noselect names included
}

// login does greeting, optional STARTTLS/TLS, AUTHENTICATE XOAUTH2 and
// optionally LIST on c.
func login(cfg Config, c net.Conn, email, token string, list bool) (loginResult, error) {
	var res loginResult
	var conn net.Conn = c
	if cfg.Security == SecurityTLS {
		tc := tls.Client(c, tlsConfig(cfg))
		if err := tc.Handshake(); err != nil {
			return res, fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	l := newLoginConn(conn)
	caps, err := l.greeting()
	if err != nil {
		return res, err
	}
	if cfg.Security == SecurityStartTLS {
		if caps == "" {
			if caps, err = l.capability(); err != nil {
				return res, err
			}
		}
		if !hasCap(caps, "STARTTLS") {
			return res, errors.New("server does not offer STARTTLS")
		}
		if err := l.startTLS(tlsConfig(cfg)); err != nil {
			return res, err
		}
		// Capabilities before STARTTLS must not be trusted. Rather than
		// asking again, authenticate without SASL-IR (same round trips).
		caps = ""
	}
	if caps != "" && !hasCap(caps, "AUTH=XOAUTH2") {
		return res, fmt.Errorf("server does not offer AUTH=XOAUTH2 (capabilities: %s)", printable(caps, 300))
	}
	if res.caps, err = l.authenticate(&xoauth2Client{user: email, token: token}, hasCap(caps, "SASL-IR")); err != nil {
		return res, err
	}
	if list {
		if res.listed, err = l.list(); err != nil {
			return res, err
		}
		res.folders = selectable(res.listed)
	}
	buffered, _ := l.br.Peek(l.br.Buffered())
	res.conn, res.buffered = l.conn, string(buffered)
	return res, nil
}

func tlsConfig(cfg Config) *tls.Config {
	var tc *tls.Config
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		tc.ServerName = host
	}
	if cfg.InsecureSkipVerify {
		tc.InsecureSkipVerify = true
	}
	if tc.NextProtos == nil {
		tc.NextProtos = []string{"imap"}
	}
	return tc
}

// close drops the connection. It first closes the socket so that imapclient's
// reader, possibly blocked handing us a literal, fails and exits; waiting for
// it is bounded in case imapclient still hangs.
func (s *session) close() {
	s.stop()
	s.dc.Conn.Close()
	done := make(chan struct{})
	go func() {
		s.cl.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// abandon gives up on a command that will not be consumed to its end. The
// socket is closed first, so that draining the command (which imapclient's
// reader may need, blocked on handing us a message) fails fast instead of
// downloading the rest. After a cut literal the reader exits by itself, and
// draining would touch that literal again: it is skipped. The session is
// unusable afterwards.
func (s *session) abandon(cmd interface{ Close() error }) {
	s.broken = true
	s.dc.Conn.Close()
	if !s.cutLiteral {
		cmd.Close()
	}
}

// logout ends the session politely when it is still healthy.
func (s *session) logout() {
	if !s.broken {
		s.dc.begin()
		s.cl.Logout().Wait()
		s.dc.end()
	}
	s.close()
}

// examine selects a folder read-only.
func (s *session) examine(name string, condstore bool) (*imap.SelectData, error) {
	s.dc.begin()
	defer s.dc.end()
	data, err := s.cl.Select(name, &imap.SelectOptions{ReadOnly: true, CondStore: condstore}).Wait()
	return data, s.check(err)
}

// searchUIDs runs UID SEARCH for a UID range.
func (s *session) searchUIDs(set imap.UIDSet) (imap.UIDSet, error) {
	s.dc.begin()
	defer s.dc.end()
	data, err := s.cl.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err := s.check(err); err != nil {
		return nil, err
	}
	uids, _ := data.All.(imap.UIDSet)
	return uids, nil
}
