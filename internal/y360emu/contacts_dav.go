package y360emu

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const contactsPrefix = "/addressbook/"

// registerContacts is picked up by routes() (see routes.go).
func (s *Server) registerContacts() {
	for _, m := range []string{"PROPFIND", http.MethodGet, http.MethodPut, http.MethodDelete, "MKCOL"} {
		s.handle(m+" "+contactsPrefix, s.serveContacts)
	}
}

// contactsAuth checks Basic (email + token) or OAuth; the token must carry
// ContactsScope and belong to the email in the path. 401 otherwise, as
// carddav.yandex.ru answers without the scope.
func (s *Server) contactsAuth(w http.ResponseWriter, r *http.Request, email string) bool {
	tok, login := oauthToken(r), ""
	if u, p, ok := r.BasicAuth(); ok {
		tok, login = p, u
	}
	c, err := s.Verify(tok)
	if err != nil || !c.HasScope(ContactsScope) || (login != "" && lower(login) != lower(c.Email)) {
		w.Header().Set("WWW-Authenticate", `Basic realm="carddav"`)
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return false
	}
	if lower(c.Email) != lower(email) {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return false
	}
	return true
}

// serveContacts routes /addressbook/{email}/[{book}/[{card}]].
func (s *Server) serveContacts(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, contactsPrefix), "/")
	if len(parts) < 2 || parts[0] == "" || len(parts) > 3 {
		http.NotFound(w, r)
		return
	}
	email, book, card := parts[0], parts[1], ""
	if len(parts) == 3 {
		card = parts[2]
	}
	if !s.contactsAuth(w, r, email) {
		return
	}
	switch {
	case r.Method == "PROPFIND":
		s.contactsPropfind(w, r, email, book, card)
	case r.Method == "MKCOL" && book != "" && card == "":
		s.contactsMkcol(w, r, email, book)
	case card == "" && r.Method == http.MethodGet && r.URL.Query().Get("op") == "ls":
		s.contactsLs(w, email, book)
	case card == "":
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	case r.Method == http.MethodGet:
		s.contactsGet(w, email, book, card)
	case r.Method == http.MethodPut:
		s.contactsPutHTTP(w, r, email, book, card)
	case r.Method == http.MethodDelete:
		s.contactsDeleteHTTP(w, r, email, book, card)
	}
}

// davResp is one <D:response> of the emulator's multistatus answers.
type davResp struct {
	href, props string // props: inner XML of <D:prop>
}

func writeMultistatus(w http.ResponseWriter, rs []davResp) {
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/">`)
	for _, r := range rs {
		b.WriteString("<D:response><D:href>" + xmlEsc(r.href) + "</D:href><D:propstat><D:prop>" + r.props +
			"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")
	}
	b.WriteString("</D:multistatus>")
	_, _ = io.WriteString(w, b.String())
}

func xmlEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func bookProps(b *cardBook) string {
	return `<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>` + xmlEsc(b.display) +
		`</D:displayname><CS:getctag>` + strconv.Itoa(b.ctag) + `</CS:getctag>`
}

func (s *Server) contactsPropfind(w http.ResponseWriter, r *http.Request, email, book, card string) {
	home := contactsPrefix + url.PathEscape(email) + "/"
	depth1 := r.Header.Get("Depth") == "1"
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	books := cs.booksLocked(email)
	var rs []davResp
	switch {
	case book == "":
		rs = append(rs, davResp{home, `<D:resourcetype><D:collection/></D:resourcetype>`})
		if depth1 {
			for _, n := range slices.Sorted(maps.Keys(books)) {
				rs = append(rs, davResp{home + url.PathEscape(n) + "/", bookProps(books[n])})
			}
		}
	case books[book] == nil:
		http.NotFound(w, r)
		return
	case card == "":
		b := books[book]
		rs = append(rs, davResp{home + url.PathEscape(book) + "/", bookProps(b)})
		if depth1 {
			for _, n := range slices.Sorted(maps.Keys(b.cards)) {
				rs = append(rs, davResp{home + url.PathEscape(book) + "/" + url.PathEscape(n),
					`<D:resourcetype/><D:getetag>` + xmlEsc(b.cards[n].etag) + `</D:getetag><D:getcontenttype>text/vcard</D:getcontenttype>`})
			}
		}
	default:
		c := books[book].cards[card]
		if c == nil {
			http.NotFound(w, r)
			return
		}
		rs = append(rs, davResp{home + url.PathEscape(book) + "/" + url.PathEscape(card), `<D:resourcetype/><D:getetag>` + xmlEsc(c.etag) + `</D:getetag>`})
	}
	writeMultistatus(w, rs)
}

// contactsLs is the non-standard listing: {"list":[{"fileName","etag"}]}.
func (s *Server) contactsLs(w http.ResponseWriter, email, book string) {
	type entry struct {
		FileName string `json:"fileName"`
		ETag     string `json:"etag"`
	}
	cs := s.contacts()
	cs.mu.Lock()
	b := cs.booksLocked(email)[book]
	var list []entry
	if b != nil {
		for _, n := range slices.Sorted(maps.Keys(b.cards)) {
			list = append(list, entry{n, strings.Trim(b.cards[n].etag, `"`)})
		}
	}
	cs.mu.Unlock()
	if b == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"list": append([]entry{}, list...)})
}

func (s *Server) contactsGet(w http.ResponseWriter, email, book, card string) {
	cs := s.contacts()
	cs.mu.Lock()
	var c *vcard
	if b := cs.booksLocked(email)[book]; b != nil {
		c = b.cards[card]
	}
	cs.mu.Unlock()
	if c == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/vcard; charset=utf-8")
	w.Header().Set("ETag", c.etag)
	w.Header().Set("Content-Length", strconv.Itoa(len(c.data)))
	_, _ = w.Write(c.data)
}

// maxCardUpload bounds one PUT body the emulator accepts.
const maxCardUpload = 64 << 20

func (s *Server) contactsPutHTTP(w http.ResponseWriter, r *http.Request, email, book, card string) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxCardUpload+1))
	if err != nil || len(data) > maxCardUpload {
		http.Error(w, "Request Entity Too Large", http.StatusRequestEntityTooLarge)
		return
	}
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	b := cs.booksLocked(email)[book]
	if b == nil {
		http.Error(w, "Conflict", http.StatusConflict)
		return
	}
	old := b.cards[card]
	if (r.Header.Get("If-None-Match") == "*" && old != nil) || !ifMatch(r.Header.Get("If-Match"), old) {
		http.Error(w, "Precondition Failed", http.StatusPreconditionFailed)
		return
	}
	c := &vcard{data: data, etag: cardETag(data)}
	b.cards[card] = c
	b.ctag++
	w.Header().Set("ETag", c.etag)
	if old == nil {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

// ifMatch checks an If-Match header against the current card.
func ifMatch(h string, c *vcard) bool {
	switch {
	case h == "":
		return true
	case h == "*":
		return c != nil
	}
	return c != nil && strings.Trim(strings.TrimPrefix(h, "W/"), `"`) == strings.Trim(c.etag, `"`)
}

func (s *Server) contactsDeleteHTTP(w http.ResponseWriter, r *http.Request, email, book, card string) {
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	b := cs.booksLocked(email)[book]
	if b == nil || b.cards[card] == nil {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	if !ifMatch(r.Header.Get("If-Match"), b.cards[card]) {
		http.Error(w, "Precondition Failed", http.StatusPreconditionFailed)
		return
	}
	delete(b.cards, card)
	b.ctag++
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) contactsMkcol(w http.ResponseWriter, r *http.Request, email, book string) {
	var body struct {
		DisplayName string `xml:"DAV: set>prop>displayname"`
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if len(raw) > 0 && xml.Unmarshal(raw, &body) != nil {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	if body.DisplayName == "" {
		body.DisplayName = book
	}
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	books := cs.booksLocked(email)
	if books[book] != nil {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	books[book] = &cardBook{display: body.DisplayName, cards: map[string]*vcard{}}
	w.WriteHeader(http.StatusCreated)
}
