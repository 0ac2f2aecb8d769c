package caldavdemo

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
)

// mkcalendarReq is RFC 4791 §5.3.1's body (all of it optional).
type mkcalendarReq struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:caldav mkcalendar"`
	Set     struct {
		Prop struct {
			DisplayName string   `xml:"DAV: displayname"`
			Color       string   `xml:"http://apple.com/ns/ical/ calendar-color"`
			Description string   `xml:"urn:ietf:params:xml:ns:caldav calendar-description"`
			CompSet     *compSet `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
		} `xml:"DAV: prop"`
	} `xml:"DAV: set"`
}

type compSet struct {
	Comps []struct {
		Name string `xml:"name,attr"`
	} `xml:"urn:ietf:params:xml:ns:caldav comp"`
}

// serveMkcalendar creates a collection (go-webdav's handler knows only MKCOL),
// so restore tests can recreate calendars the way clients do.
func (s *Server) serveMkcalendar(w http.ResponseWriter, r *http.Request, email string) {
	col, obj, ok := splitPath(email, r.URL.Path)
	if !ok || col == "" || obj != "" {
		davError(w, http.StatusForbidden, xml.Name{Space: nsCalDAV, Local: "calendar-collection-location-ok"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	var info CalendarInfo
	if strings.TrimSpace(string(body)) != "" {
		var req mkcalendarReq
		if err := xml.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad MKCALENDAR body: "+err.Error(), http.StatusBadRequest)
			return
		}
		p := req.Set.Prop
		info = CalendarInfo{DisplayName: p.DisplayName, Color: p.Color, Description: p.Description}
		if p.CompSet != nil {
			for _, c := range p.CompSet.Comps {
				info.Components = append(info.Components, c.Name)
			}
		}
	}
	if err := s.CreateCalendar(email, col, info); err != nil {
		davError(w, http.StatusMethodNotAllowed, dav("resource-must-be-null"))
		return
	}
	w.WriteHeader(http.StatusCreated)
}
