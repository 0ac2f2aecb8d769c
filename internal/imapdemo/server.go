package imapdemo

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// ValidateFunc checks an OAuth access token and returns the email address it
// was issued for. ok is false for an unknown, expired or revoked token.
type ValidateFunc func(token string) (email string, ok bool)

// Folder is a folder created for every new user (see Options.DefaultFolders).
type Folder struct {
	Name  string
	Attrs []imap.MailboxAttr // special-use attributes such as imap.MailboxAttrSent
}

// ErrDrop, returned by a hook, makes the server close the client's connection
// without a response, as a network failure would.
var ErrDrop = errors.New("imapdemo: drop connection")

// Options configure a Server. The zero value serves plain TCP with Yandex-like
// capabilities, the "|" delimiter and Yandex's Russian folder names.
type Options struct {
	// Caps replaces the advertised capability list (YandexCaps by default).
	Caps imap.CapSet
	// Delim is the hierarchy delimiter ('|' by default, as at Yandex).
	Delim rune
	// TLS serves implicit TLS (like port 993) with a generated self-signed
	// certificate for 127.0.0.1 and localhost; see Server.ClientTLSConfig.
	TLS bool
	// StartTLS serves plain TCP that offers STARTTLS with the same kind of
	// certificate (ignored when TLS is set).
	StartTLS bool
	// DefaultFolders are created, besides INBOX, for every new user.
	// nil means YandexFolders; use an empty non-nil slice for INBOX only.
	DefaultFolders []Folder
	// OnSelect, if set, runs before every SELECT/EXAMINE. A non-nil error
	// refuses it (an *imap.Error is sent as is, other errors become NO);
	// ErrDrop closes the connection instead.
	OnSelect func(email, mailbox string) error
	// OnFetch, if set, runs before every FETCH, with the same error rules.
	OnFetch func(email, mailbox string, numSet imap.NumSet, options *imap.FetchOptions) error
	// OnAppend, if set, runs for every APPEND once the server has accepted
	// the literal (size bytes), before the message is stored, with the same
	// error rules: an error refuses the APPEND (e.g. an *imap.Error with
	// imap.ResponseCodeTooBig), ErrDrop closes the connection.
	OnAppend func(email, mailbox string, size int64) error
	// AppendLimit, if not zero, is advertised as APPENDLIMIT=<n> after login
	// and larger APPENDs are refused with NO [TOOBIG] before their literal.
	AppendLimit uint32
	// PermanentFlags, if not nil, replaces the PERMANENTFLAGS that SELECT
	// reports (by default the folder's flags and \*). It changes only what
	// clients are told; keywords sent anyway are still stored.
	PermanentFlags []imap.Flag
	// DebugWriter receives the raw protocol traffic (tokens included).
	DebugWriter io.Writer
}

// YandexCaps is the capability list Yandex's IMAP server advertises, minus
// what imapserver cannot serve (XLIST, ID). imapserver adds SASL-IR, LITERAL-,
// AUTH=..., and after login UNSELECT, ENABLE, IDLE and UTF8=ACCEPT on its own.
func YandexCaps() imap.CapSet {
	return imap.CapSet{
		imap.CapIMAP4rev1:   {},
		imap.CapChildren:    {},
		imap.CapUnselect:    {},
		imap.CapLiteralPlus: {},
		imap.CapNamespace:   {},
		imap.CapUIDPlus:     {},
		imap.CapEnable:      {},
		imap.CapIdle:        {},
		imap.CapMove:        {},
	}
}

// YandexFolders are the folders of a new Yandex mailbox with a Russian
// interface (besides INBOX).
func YandexFolders() []Folder {
	return []Folder{
		{Name: "Отправленные", Attrs: []imap.MailboxAttr{imap.MailboxAttrSent}},
		{Name: "Удаленные", Attrs: []imap.MailboxAttr{imap.MailboxAttrTrash}},
		{Name: "Спам", Attrs: []imap.MailboxAttr{imap.MailboxAttrJunk}},
		{Name: "Черновики", Attrs: []imap.MailboxAttr{imap.MailboxAttrDrafts}},
		{Name: "Исходящие"},
	}
}

// Stats counts what clients did, for tests.
type Stats struct {
	Logins       int64 // successful authentications
	AuthFailures int64 // refused tokens
	Selects      int64 // SELECT and EXAMINE commands
	Fetches      int64 // FETCH commands
	BodyFetches  int64 // FETCH commands that asked for a body section
	Appends      int64 // messages stored by APPEND
}

// Server is an in-process IMAP server. Its methods are safe for concurrent use.
type Server struct {
	validate  ValidateFunc
	opts      Options
	imap      *imapserver.Server
	tlsCert   *x509.Certificate // set when opts.TLS
	listenTLS *tls.Config       // implicit TLS for Serve, when opts.TLS

	mu    sync.Mutex
	users map[string]*user // by lower-cased email
	ln    net.Listener

	logins, authFailures, selects, fetches, bodyFetches, appends atomic.Int64
}

// New returns a server that accepts tokens validate approves. opts may be nil.
func New(validate ValidateFunc, opts *Options) (*Server, error) {
	s := &Server{validate: validate, users: map[string]*user{}}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Caps == nil {
		s.opts.Caps = YandexCaps()
	}
	if s.opts.Delim == 0 {
		s.opts.Delim = '|'
	}
	if s.opts.DefaultFolders == nil {
		s.opts.DefaultFolders = YandexFolders()
	}
	var tlsConfig *tls.Config
	if s.opts.TLS || s.opts.StartTLS {
		cert, leaf, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("imapdemo: certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.tlsCert = leaf
	}
	// imapserver's TLSConfig is only for STARTTLS; implicit TLS wraps the
	// listener instead (see setListener).
	var startTLSConfig *tls.Config
	if s.opts.TLS {
		s.listenTLS = tlsConfig
	} else {
		startTLSConfig = tlsConfig
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			sess := &session{srv: s, conn: c}
			if s.opts.AppendLimit != 0 {
				return &limitedSession{sess}, nil, nil
			}
			return sess, nil, nil
		},
		Caps:         s.opts.Caps,
		Logger:       discardLogger{},
		InsecureAuth: !s.opts.TLS && !s.opts.StartTLS,
		DebugWriter:  s.opts.DebugWriter,
		TLSConfig:    startTLSConfig,
	})
	return s, nil
}

// Start returns a server already listening on 127.0.0.1 on a free port.
func Start(validate ValidateFunc, opts *Options) (*Server, error) {
	s, err := New(validate, opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("imapdemo: listen: %w", err)
	}
	ln = s.setListener(ln)
	go s.imap.Serve(ln)
	return s, nil
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.imap.Serve(s.setListener(ln))
}

func (s *Server) setListener(ln net.Listener) net.Listener {
	if s.listenTLS != nil {
		ln = tls.NewListener(ln, s.listenTLS)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return ln
}

// Addr is the listening address ("127.0.0.1:port"), or "" before Serve.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// ClientTLSConfig returns a client configuration that trusts the server's
// self-signed certificate (nil when the server does not use TLS).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.tlsCert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.tlsCert)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// Close stops listening and closes every connection.
func (s *Server) Close() error {
	return s.imap.Close()
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		Logins:       s.logins.Load(),
		AuthFailures: s.authFailures.Load(),
		Selects:      s.selects.Load(),
		Fetches:      s.fetches.Load(),
		BodyFetches:  s.bodyFetches.Load(),
		Appends:      s.appends.Load(),
	}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}
