package caldavdemo

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"sort"
)

type syncReq struct {
	XMLName   xml.Name `xml:"DAV: sync-collection"`
	SyncToken string   `xml:"DAV: sync-token"`
	SyncLevel string   `xml:"DAV: sync-level"`
	Limit     *struct {
		NResults int `xml:"DAV: nresults"`
	} `xml:"DAV: limit"`
	Prop struct {
		Names []anyElem `xml:",any"`
	} `xml:"DAV: prop"`
}

func isSyncCollection(body []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name == dav("sync-collection")
		}
	}
}

type change struct {
	name string
	rev  int64
	obj  *object // nil = deleted
}

// serveSync answers an RFC 6578 sync-collection REPORT on a collection.
func (s *Server) serveSync(w http.ResponseWriter, r *http.Request, email string, body []byte) {
	if s.opts.NoSyncCollection {
		davError(w, http.StatusForbidden, dav("supported-report"))
		return
	}
	var req syncReq
	if err := xml.Unmarshal(body, &req); err != nil {
		http.Error(w, "bad sync-collection body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.SyncLevel != "1" {
		http.Error(w, "only sync-level 1 is supported", http.StatusBadRequest)
		return
	}
	col, obj, ok := splitPath(email, r.URL.Path)
	if !ok || col == "" || obj != "" {
		davError(w, http.StatusForbidden, dav("supported-report"))
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.calLocked(email, col)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	var since int64
	if req.SyncToken != "" {
		rev, ok := parseSyncToken(req.SyncToken)
		if !ok || rev < c.min || rev > s.rev {
			davError(w, http.StatusForbidden, dav("valid-sync-token"))
			return
		}
		since = rev
	}
	var changes []change
	for name, o := range c.objs {
		if o.rev > since {
			changes = append(changes, change{name, o.rev, o})
		}
	}
	if req.SyncToken != "" {
		for name, rev := range c.tombs {
			if rev > since {
				changes = append(changes, change{name, rev, nil})
			}
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].rev < changes[j].rev })

	limit := s.opts.SyncPageSize
	if req.Limit != nil && req.Limit.NResults > 0 && (limit == 0 || req.Limit.NResults < limit) {
		limit = req.Limit.NResults
	}
	token := syncToken(c.rev)
	ms := newMultistatus()
	if limit > 0 && len(changes) > limit {
		changes = changes[:limit]
		token = syncToken(changes[limit-1].rev)
		ms.status(homePath(email)+col+"/", http.StatusInsufficientStorage)
	}
	var want []xml.Name
	for _, n := range req.Prop.Names {
		want = append(want, n.XMLName)
	}
	for _, ch := range changes {
		href := homePath(email) + col + "/" + ch.name
		if ch.obj == nil {
			ms.status(href, http.StatusNotFound)
			continue
		}
		ms.response(href, want, []prop{
			{dav("getetag"), escape(`"` + ch.obj.etag + `"`)},
			{dav("getcontenttype"), "text/calendar; charset=utf-8"},
			{xml.Name{Space: nsCalDAV, Local: "calendar-data"}, escape(string(ch.obj.data))},
		})
	}
	ms.serve(w, token)
}
