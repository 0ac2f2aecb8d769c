package imapdemo

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// session is one client connection. Until authentication the embedded
// UserSession is nil; imapserver never calls mailbox methods before then.
type session struct {
	*imapmemserver.UserSession

	srv      *Server
	conn     *imapserver.Conn
	u        *user
	selected string
}

var (
	_ imapserver.SessionSASL      = (*session)(nil)
	_ imapserver.SessionNamespace = (*session)(nil)
	_ imapserver.SessionMove      = (*session)(nil)
)

// exactLiteral turns a literal cut short (the client went away in the
// middle) into an error, so that the partial message is not stored: real
// servers discard such an APPEND, while imapserver hands the short literal on
// as if it were complete.
type exactLiteral struct {
	imap.LiteralReader
	n int64
}

func (l *exactLiteral) Read(p []byte) (int, error) {
	n, err := l.LiteralReader.Read(p)
	l.n += int64(n)
	if err == io.EOF && l.n != l.Size() {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// limitedSession is a session with Options.AppendLimit (imapserver
// advertises APPENDLIMIT whenever a session has the method, so only these do).
type limitedSession struct{ *session }

var _ imapserver.SessionAppendLimit = limitedSession{}

func (s limitedSession) AppendLimit() uint32 { return s.srv.opts.AppendLimit }

// errAuthFailed is Yandex's wording for a refused login or token.
var errAuthFailed = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeAuthenticationFailed,
	Text: "Invalid credentials or IMAP is disabled",
}

// xoauth2Challenge is what Dovecot sends before refusing an XOAUTH2 token.
var xoauth2Challenge = []byte(`{"status":"401","schemes":"bearer","scope":"mail"}`)

func (s *session) Close() error {
	if s.UserSession != nil {
		return s.UserSession.Close()
	}
	return nil
}

// login accepts token for username if the validator says it belongs to them.
func (s *session) login(username, token string) error {
	email, ok := s.srv.validate(token)
	if !ok || !strings.EqualFold(email, username) {
		s.srv.authFailures.Add(1)
		return errAuthFailed
	}
	s.u = s.srv.ensureUser(email)
	s.UserSession = imapmemserver.NewUserSession(s.u.mem)
	s.srv.logins.Add(1)
	return nil
}

// Login implements LOGIN with the OAuth token as the password.
func (s *session) Login(username, password string) error {
	return s.login(username, password)
}

func (s *session) AuthenticateMechanisms() []string {
	return []string{"XOAUTH2", "PLAIN"}
}

func (s *session) Authenticate(mech string) (sasl.Server, error) {
	switch strings.ToUpper(mech) {
	case "XOAUTH2":
		return &xoauth2Server{s: s}, nil
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return errAuthFailed
			}
			return s.login(username, password)
		}), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported authentication mechanism"}
}

// xoauth2Server is the server side of XOAUTH2: one client message
// "user=<email>\x01auth=Bearer <token>\x01\x01"; on a bad token a JSON
// challenge, an empty client answer, then NO [AUTHENTICATIONFAILED].
type xoauth2Server struct {
	s      *session
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, false, errAuthFailed
	}
	if resp == nil { // no SASL-IR: ask for the initial response with "+ "
		return nil, false, nil
	}
	user, token, ok := parseXOAUTH2(resp)
	if !ok {
		return nil, false, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Malformed XOAUTH2 response"}
	}
	if err := x.s.login(user, token); err != nil {
		x.failed = true
		return xoauth2Challenge, false, nil
	}
	return nil, true, nil
}

func parseXOAUTH2(b []byte) (user, token string, ok bool) {
	for _, field := range bytes.Split(b, []byte{1}) {
		switch f := string(field); {
		case strings.HasPrefix(f, "user="):
			user = f[len("user="):]
		case strings.HasPrefix(strings.ToLower(f), "auth=bearer "):
			token = f[len("auth=bearer "):]
		}
	}
	return user, token, user != "" && token != ""
}

// hookErr turns a hook's error into what the server sends.
func (s *session) hookErr(err error) error {
	if errors.Is(err, ErrDrop) {
		s.conn.NetConn().Close()
		return err
	}
	var imapErr *imap.Error
	if errors.As(err, &imapErr) {
		return imapErr
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Text: err.Error()}
}

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.srv.selects.Add(1)
	if hook := s.srv.opts.OnSelect; hook != nil {
		if err := hook(s.u.email, name); err != nil {
			return nil, s.hookErr(err)
		}
	}
	if s.selected != "" {
		// imapmemserver's Select would leak the previous view's tracker.
		s.UserSession.Unselect()
		s.selected = ""
	}
	data, err := s.UserSession.Select(name, options)
	if err == nil {
		s.selected = name
		if pf := s.srv.opts.PermanentFlags; pf != nil {
			data.PermanentFlags = append([]imap.Flag{}, pf...)
		}
	}
	return data, err
}

// Append runs Options.OnAppend before storing the message.
func (s *session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if hook := s.srv.opts.OnAppend; hook != nil {
		if err := hook(s.u.email, mailbox, r.Size()); err != nil {
			return nil, s.hookErr(err)
		}
	}
	data, err := s.UserSession.Append(mailbox, &exactLiteral{LiteralReader: r}, options)
	if err == nil {
		s.srv.appends.Add(1)
	}
	return data, err
}

func (s *session) Unselect() error {
	s.selected = ""
	return s.UserSession.Unselect()
}

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	s.srv.fetches.Add(1)
	if len(options.BodySection) > 0 || len(options.BinarySection) > 0 {
		s.srv.bodyFetches.Add(1)
	}
	if hook := s.srv.opts.OnFetch; hook != nil {
		if err := hook(s.u.email, s.selected, numSet, options); err != nil {
			return s.hookErr(err)
		}
	}
	return s.UserSession.Fetch(w, numSet, options)
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	var attrs []imap.MailboxAttr
	if options != nil {
		attrs = options.SpecialUse
	}
	return s.u.create(strings.TrimRight(name, string(s.srv.opts.Delim)), attrs)
}

func (s *session) Delete(name string) error { return s.u.remove(name) }

func (s *session) Rename(oldName, newName string, options *imap.RenameOptions) error {
	return s.u.rename(oldName, newName)
}

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Delim: s.srv.opts.Delim}},
	}, nil
}

// List answers from the folder registry with the configured delimiter and
// the special-use attributes, the way Yandex does without SPECIAL-USE.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	delim := s.srv.opts.Delim
	if len(patterns) == 0 || (len(patterns) == 1 && patterns[0] == "") {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	for _, data := range s.u.snapshot(delim) {
		match := false
		for _, pattern := range patterns {
			if imapserver.MatchList(data.Mailbox, delim, ref, pattern) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		noSelect := len(data.Attrs) == 1 && data.Attrs[0] == imap.MailboxAttrNoSelect
		if options != nil && options.SelectSpecialUse && (noSelect || len(data.Attrs) == 0) {
			continue
		}
		if options != nil && options.ReturnStatus != nil && !noSelect {
			st, err := s.u.mem.Status(data.Mailbox, options.ReturnStatus)
			if err != nil {
				return err
			}
			data.Status = st
		}
		if err := w.WriteList(&data); err != nil {
			return err
		}
	}
	return nil
}
