package caldavdemo

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
)

type propfindReq struct {
	XMLName xml.Name  `xml:"DAV: propfind"`
	AllProp *struct{} `xml:"DAV: allprop"`
	Prop    *struct {
		Names []anyElem `xml:",any"`
	} `xml:"DAV: prop"`
}

// servePropfind answers PROPFIND on the calendar home (Depth 0 or 1) and on
// a collection itself (Depth 0) with the properties go-webdav cannot serve.
// It returns false to let go-webdav handle the request.
func (s *Server) servePropfind(w http.ResponseWriter, r *http.Request, email string) bool {
	col, obj, ok := splitPath(email, r.URL.Path)
	if !ok || obj != "" {
		return false
	}
	depth := r.Header.Get("Depth")
	if col != "" && depth != "0" {
		return false // member listing: go-webdav
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return true
	}
	var want []xml.Name // nil = allprop
	if len(strings.TrimSpace(string(body))) > 0 {
		var req propfindReq
		if err := xml.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad PROPFIND body: "+err.Error(), http.StatusBadRequest)
			return true
		}
		if req.Prop != nil && req.AllProp == nil {
			want = []xml.Name{}
			for _, n := range req.Prop.Names {
				want = append(want, n.XMLName)
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(email)
	ms := newMultistatus()
	if col == "" {
		ms.response(homePath(email), want, []prop{
			{dav("resourcetype"), "<D:collection/>"},
			{dav("current-user-principal"), hrefXML(principalPath(email))},
		})
		if depth != "0" {
			for _, name := range sortedNames(u.cals) {
				ms.response(homePath(email)+name+"/", want, s.calendarProps(email, u.cals[name]))
			}
		}
	} else {
		c := u.cals[col]
		if c == nil {
			http.Error(w, "no such calendar", http.StatusNotFound)
			return true
		}
		ms.response(homePath(email)+col+"/", want, s.calendarProps(email, c))
	}
	ms.serve(w, "")
	return true
}

func (s *Server) calendarProps(email string, c *collection) []prop {
	comps := ""
	for _, n := range c.info.Components {
		comps += `<C:comp name="` + escape(n) + `"/>`
	}
	reports := "<D:supported-report><D:report><C:calendar-multiget/></D:report></D:supported-report>" +
		"<D:supported-report><D:report><C:calendar-query/></D:report></D:supported-report>"
	if !s.opts.NoSyncCollection {
		reports += "<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>"
	}
	ps := []prop{
		{dav("resourcetype"), "<D:collection/><C:calendar/>"},
		{dav("displayname"), escape(c.info.DisplayName)},
		{xml.Name{Space: nsCalDAV, Local: "supported-calendar-component-set"}, comps},
		{dav("supported-report-set"), reports},
		{dav("current-user-principal"), hrefXML(principalPath(email))},
	}
	if c.info.Color != "" {
		ps = append(ps, prop{xml.Name{Space: nsApple, Local: "calendar-color"}, escape(c.info.Color)})
	}
	if c.info.Description != "" {
		ps = append(ps, prop{xml.Name{Space: nsCalDAV, Local: "calendar-description"}, escape(c.info.Description)})
	}
	if !s.opts.NoCTag {
		ps = append(ps, prop{xml.Name{Space: nsCS, Local: "getctag"}, escape(c.ctag())})
	}
	if !s.opts.NoSyncCollection {
		ps = append(ps, prop{dav("sync-token"), escape(syncToken(c.rev))})
	}
	return ps
}
