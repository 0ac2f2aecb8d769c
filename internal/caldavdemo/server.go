package caldavdemo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
)

// Options configure a Server.
type Options struct {
	// Validate maps a token to the email of its user; required.
	Validate func(token string) (email string, ok bool)
	// NoCTag leaves CS:getctag out of PROPFIND answers.
	NoCTag bool
	// NoSyncCollection neither advertises nor answers sync-collection.
	NoSyncCollection bool
	// SyncPageSize, if > 0, truncates sync-collection answers to this many
	// changes (RFC 6578 §3.6, 507 on the collection) so clients must page.
	SyncPageSize int
	// Now is the clock for Last-Modified; nil means time.Now.
	Now func() time.Time
}

// Server is an in-memory multi-user CalDAV server. It is an http.Handler.
type Server struct {
	opts  Options
	dav   *caldav.Handler
	mu    sync.Mutex
	users map[string]*user // by lower-case email
	rev   int64            // server-wide change counter: ctags and sync-tokens
}

// New returns an empty server.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, users: map[string]*user{}}
	s.dav = &caldav.Handler{Backend: &backend{s: s}}
	return s
}

type ctxKey struct{}

func userFrom(ctx context.Context) string {
	email, _ := ctx.Value(ctxKey{}).(string)
	return email
}

// ServeHTTP authenticates the request and serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	email, ok := s.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `OAuth realm="caldavdemo"`)
		w.Header().Add("WWW-Authenticate", `Basic realm="caldavdemo"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.ensureUser(email)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, email))

	switch r.Method {
	case "MKCALENDAR":
		s.serveMkcalendar(w, r, email)
		return
	case "PROPFIND":
		if s.servePropfind(w, r, email) {
			return
		}
	case "REPORT":
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if isSyncCollection(body) {
			s.serveSync(w, r, email, body)
			return
		}
	}
	s.dav.ServeHTTP(w, r)
}

// authenticate accepts "OAuth <token>", "Bearer <token>" and Basic with the
// token as password (the login must be the token's email).
func (s *Server) authenticate(r *http.Request) (string, bool) {
	if s.opts.Validate == nil {
		return "", false
	}
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "oauth", "bearer":
		return s.opts.Validate(strings.TrimSpace(tok))
	case "basic":
		login, pass, ok := r.BasicAuth()
		if !ok {
			return "", false
		}
		email, ok := s.opts.Validate(pass)
		if !ok || !strings.EqualFold(email, login) {
			return "", false
		}
		return email, true
	}
	return "", false
}

// ensureUser creates a user on first sight with Yandex's default calendar.
func (s *Server) ensureUser(email string) *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLocked(email)
}

func (s *Server) userLocked(email string) *user {
	key := strings.ToLower(email)
	u := s.users[key]
	if u == nil {
		u = &user{email: email, cals: map[string]*collection{}}
		s.users[key] = u
		s.rev++
		u.cals["events-default"] = &collection{
			name: "events-default", info: CalendarInfo{DisplayName: "Мои события", Color: "#49a2ff", Components: []string{"VEVENT"}},
			objs: map[string]*object{}, uids: map[string]string{}, tombs: map[string]int64{}, rev: s.rev,
		}
	}
	return u
}

// errNotFound and friends are turned into HTTP statuses by go-webdav.
var (
	errNoCalendar = errors.New("no such calendar")
	errNoObject   = errors.New("no such object")
)

// AddUser creates a user (with an empty "events-default" calendar, as every
// Yandex user has) if it does not exist yet.
func (s *Server) AddUser(email string) { s.ensureUser(email) }

// PrincipalPath and HomePath are the user's principal and calendar home.
func (s *Server) PrincipalPath(email string) string { return principalPath(email) }
func (s *Server) HomePath(email string) string      { return homePath(email) }

// CreateCalendar creates collection name (a path segment) for the user.
func (s *Server) CreateCalendar(email, name string, info CalendarInfo) error {
	if name == "" || strings.ContainsAny(name, "/") {
		return fmt.Errorf("caldavdemo: bad calendar name %q", name)
	}
	if len(info.Components) == 0 {
		info.Components = []string{"VEVENT"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(email)
	if _, ok := u.cals[name]; ok {
		return fmt.Errorf("caldavdemo: calendar %s/%s exists", email, name)
	}
	s.rev++
	u.cals[name] = &collection{name: name, info: info, objs: map[string]*object{}, uids: map[string]string{}, tombs: map[string]int64{}, rev: s.rev}
	return nil
}

// UpdateCalendar changes a collection's display name, color or description
// (components stay). It does not change the ctag, like real servers.
func (s *Server) UpdateCalendar(email, name string, info CalendarInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, name)
	if err != nil {
		return err
	}
	info.Components = c.info.Components
	c.info = info
	return nil
}

// Calendar returns a collection's display name, color, description and
// components.
func (s *Server) Calendar(email, name string) (CalendarInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, name)
	if err != nil {
		return CalendarInfo{}, false
	}
	info := c.info
	info.Components = append([]string(nil), c.info.Components...)
	return info, true
}

// DeleteCalendar removes a collection and everything in it.
func (s *Server) DeleteCalendar(email, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.calLocked(email, name); err != nil {
		return err
	}
	delete(s.users[strings.ToLower(email)].cals, name)
	return nil
}

// PutObject stores an .ics under calendar/object (creating or replacing it)
// and returns the etag it is served with. The text is normalized once.
func (s *Server) PutObject(email, calendar, object string, ics []byte) (string, error) {
	data, cal, err := normalize(ics)
	if err != nil {
		return "", fmt.Errorf("caldavdemo: %s/%s/%s: %w", email, calendar, object, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, calendar)
	if err != nil {
		return "", err
	}
	return s.putLocked(c, object, data, cal), nil
}

func (s *Server) putLocked(c *collection, name string, data []byte, cal *ical.Calendar) string {
	s.rev++
	o := &object{name: name, data: data, cal: cal, uid: uidOf(cal), etag: etagOf(data), rev: s.rev, mod: s.opts.Now().UTC().Truncate(time.Second)}
	if old := c.objs[name]; old != nil && c.uids[old.uid] == name {
		delete(c.uids, old.uid)
	}
	c.objs[name] = o
	if o.uid != "" {
		c.uids[o.uid] = name
	}
	delete(c.tombs, name)
	c.rev = s.rev
	return o.etag
}

// DeleteObject removes calendar/object.
func (s *Server) DeleteObject(email, calendar, object string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, calendar)
	if err != nil {
		return err
	}
	return s.deleteLocked(c, object)
}

func (s *Server) deleteLocked(c *collection, name string) error {
	o, ok := c.objs[name]
	if !ok {
		return fmt.Errorf("caldavdemo: %s/%s: %w", c.name, name, errNoObject)
	}
	if c.uids[o.uid] == name {
		delete(c.uids, o.uid)
	}
	s.rev++
	delete(c.objs, name)
	c.tombs[name] = s.rev
	c.rev = s.rev
	return nil
}

// Object returns the bytes GET serves for calendar/object.
func (s *Server) Object(email, calendar, object string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, calendar)
	if err != nil {
		return nil, false
	}
	o, ok := c.objs[object]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), o.data...), true
}

// Objects lists the object names of a calendar, sorted.
func (s *Server) Objects(email, calendar string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, calendar)
	if err != nil {
		return nil
	}
	return sortedNames(c.objs)
}

// Calendars lists the user's collection names, sorted.
func (s *Server) Calendars(email string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.ToLower(email)]
	if u == nil {
		return nil
	}
	return sortedNames(u.cals)
}

// ForgetSyncHistory makes every sync-token issued so far for the calendar
// invalid (as servers do when they expire change logs).
func (s *Server) ForgetSyncHistory(email, calendar string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, calendar)
	if err != nil {
		return err
	}
	s.rev++
	c.min = s.rev
	c.rev = s.rev
	c.tombs = map[string]int64{}
	return nil
}

func (s *Server) calLocked(email, name string) (*collection, error) {
	u := s.users[strings.ToLower(email)]
	if u == nil {
		return nil, fmt.Errorf("caldavdemo: no user %s", email)
	}
	c := u.cals[name]
	if c == nil {
		return nil, fmt.Errorf("caldavdemo: %s/%s: %w", email, name, errNoCalendar)
	}
	return c, nil
}
