package y360emu

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"
)

// Key sources: Options.Key, else the environment variable EnvKey, else DefaultKey.
const (
	EnvKey     = "Y360_TEST_EMU_KEY"
	DefaultKey = "y360emu-demo-key"
)

// DefaultScopes returns the scopes the emulator grants its default service
// application (a fresh slice each call).
func DefaultScopes() []string {
	return []string{"mail:imap_ro", "calendar:all", "addressbook:all", "cloud_api:disk.read", "cloud_api:disk.info"}
}

// Options configures a Server. Zero fields get the defaults noted.
type Options struct {
	OrgID      string // default DemoOrgID
	AdminToken string // admin (and, unless OwnerToken is set, owner) token; default DemoAdminToken
	// OwnerToken, if set, is the only token allowed to manage service
	// applications; AdminToken then gets 403 "Not an owner" there.
	OwnerToken string
	AdminLogin string // login /whoami reports for the admin token; default "admin@" + DemoDomain

	ClientID     string // the OAuth app registered "at oauth.yandex.ru"; default DemoClientID
	ClientSecret string // default DemoClientSecret

	TokenLifetime time.Duration // expires_in of minted tokens (whole seconds, rounded up); default 1h
	Key           []byte        // HMAC key for tokens; default $Y360_TEST_EMU_KEY or DefaultKey

	Users []User
	// Org, if set, is the organization's structure (departments, groups,
	// mailboxes, mail rules: orgdata.go); nil = none of these objects.
	Org *OrgData
	// ServiceApps is the org's service-application list; nil means one entry
	// for ClientID with DefaultScopes. Use an empty non-nil slice for "none".
	ServiceApps []ServiceApp
	// FeatureInactive starts the org with service applications deactivated.
	FeatureInactive bool
	// UIDSubjectRefused makes POST /token answer "user not found" for every
	// uid subject, so clients must fall back to the email form.
	UIDSubjectRefused bool
	// IDsAsNumbers makes the Directory API emit user ids as JSON numbers
	// instead of strings (clients must tolerate both).
	IDsAsNumbers bool
	// DefaultPerPage is the Directory page size when perPage is absent; default 10.
	DefaultPerPage int
	// BenchTokens makes minted tokens the literal "valid-<email>" that the
	// shared bench harness's Dovecot introspection accepts (never for real
	// use: such tokens are guessable). Verify accepts them too.
	BenchTokens bool

	Now func() time.Time // the emulator's clock; default time.Now
}

// ServiceApp is one entry of the org's service-application list.
type ServiceApp struct {
	ID     string   `json:"id"`
	Scopes []string `json:"scopes"`
}

// Server emulates the Yandex 360 HTTP APIs of one organization. All methods
// are safe for concurrent use, including the runtime switches.
//
// Adding endpoints: see routes.go. In short, define `func (s *Server)
// registerDisk()` in disk.go and call s.handle(pattern, handler) with Go 1.22
// ServeMux patterns there; routes() picks it up without further edits. Every request passes the shared middleware (request
// counting, then fault injection) before the mux. Use the write*Error helpers
// in errors.go for bodies, s.adminAuth / s.userAuth for tokens, s.now() for
// time and s.extension for state owned by another file.
type Server struct {
	opts Options
	key  []byte
	mux  *http.ServeMux
	h    http.Handler

	mu         sync.Mutex
	users      []*User          // in directory order
	byID       map[string]*User // by uid
	byEmail    map[string]*User // by lower-case email
	apps       []ServiceApp
	active     bool // service-applications feature
	uidRefused bool
	lifetime   time.Duration
	gen        int64 // revocation generation: tokens minted before RevokeAllTokens carry a lower one
	ext        map[string]any

	faults faultSet
	stats  stats
	styles []stylePrefix // error body style by path prefix, longest first

	tsMu sync.Mutex
	ts   *httptest.Server
}

// New builds a Server from opts (defaults filled in).
func New(opts Options) *Server {
	if opts.OrgID == "" {
		opts.OrgID = DemoOrgID
	}
	if opts.AdminToken == "" {
		opts.AdminToken = DemoAdminToken
	}
	if opts.AdminLogin == "" {
		opts.AdminLogin = "admin@" + DemoDomain
	}
	if opts.ClientID == "" {
		opts.ClientID = DemoClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DemoClientSecret
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.DefaultPerPage <= 0 {
		opts.DefaultPerPage = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key := opts.Key
	if len(key) == 0 {
		if k := os.Getenv(EnvKey); k != "" {
			key = []byte(k)
		} else {
			key = []byte(DefaultKey)
		}
	}
	apps := opts.ServiceApps
	if apps == nil {
		apps = []ServiceApp{{ID: opts.ClientID, Scopes: DefaultScopes()}}
	}
	s := &Server{
		opts:       opts,
		key:        append([]byte(nil), key...),
		mux:        http.NewServeMux(),
		byID:       make(map[string]*User),
		byEmail:    make(map[string]*User),
		apps:       cloneApps(apps),
		active:     !opts.FeatureInactive,
		uidRefused: opts.UIDSubjectRefused,
		lifetime:   roundSeconds(opts.TokenLifetime),
		ext:        make(map[string]any),
		stats:      newStats(),
	}
	s.AddUsers(opts.Users...)
	if opts.Org != nil {
		s.SetOrg(*opts.Org)
	}
	s.routes()
	s.h = s.middleware(s.mux)
	return s
}

// Handler returns the emulator as an http.Handler (middleware + all routes).
func (s *Server) Handler() http.Handler { return s.h }

// Start serves the emulator on a loopback httptest server and returns its
// base URL ("http://127.0.0.1:port"). Use it as the API base; the token
// endpoint is OAuthURL(). Close stops it.
func (s *Server) Start() string {
	s.tsMu.Lock()
	defer s.tsMu.Unlock()
	if s.ts == nil {
		s.ts = httptest.NewServer(s.h)
	}
	return s.ts.URL
}

// URL returns the base URL of a started server ("" before Start).
func (s *Server) URL() string {
	s.tsMu.Lock()
	defer s.tsMu.Unlock()
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// OAuthURL is the token endpoint of a started server (URL() + "/token").
func (s *Server) OAuthURL() string { return s.URL() + "/token" }

// IntrospectURL is the Dovecot/Radicale introspection endpoint of a started server.
func (s *Server) IntrospectURL() string { return s.URL() + "/introspect" }

// Close stops the server started by Start. It is safe to call more than once.
func (s *Server) Close() {
	s.tsMu.Lock()
	if s.ts != nil {
		s.ts.Close()
		s.ts = nil
	}
	s.tsMu.Unlock()
	// Optional groups with listeners of their own (Disk download/upload hosts).
	if c, ok := any(s).(interface{ CloseDisk() }); ok {
		c.CloseDisk()
	}
}

// ListenAndServe serves on addr (e.g. "127.0.0.1:8089") until ctx is done,
// then shuts down gracefully. It returns nil after a shutdown caused by ctx.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener (closed on return).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		case <-done:
		}
	}()
	err := srv.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) && ctx.Err() != nil {
		return nil
	}
	return err
}

// now is the emulator clock.
func (s *Server) now() time.Time { return s.opts.Now() }

// OrgID returns the organization id the emulator serves.
func (s *Server) OrgID() string { return s.opts.OrgID }

// extension returns the state stored under key, creating it with mk on first
// use. It lets endpoint groups in other files keep their own state on the
// Server without growing this struct.
func (s *Server) extension(key string, mk func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.ext[key]
	if !ok {
		v = mk()
		s.ext[key] = v
	}
	return v
}

// handle registers h for a ServeMux pattern ("GET /whoami").
func (s *Server) handle(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

func cloneApps(apps []ServiceApp) []ServiceApp {
	out := make([]ServiceApp, len(apps))
	for i, a := range apps {
		out[i] = ServiceApp{ID: a.ID, Scopes: append([]string{}, a.Scopes...)}
	}
	return out
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
