package caldavdemo

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

const (
	nsDAV    = "DAV:"
	nsCalDAV = "urn:ietf:params:xml:ns:caldav"
	nsCS     = "http://calendarserver.org/ns/"
	nsApple  = "http://apple.com/ns/ical/"
)

var prefixes = map[string]string{nsDAV: "D", nsCalDAV: "C", nsCS: "CS", nsApple: "I"}

// prop is one property value; inner is already-escaped XML.
type prop struct {
	name  xml.Name
	inner string
}

func dav(local string) xml.Name { return xml.Name{Space: nsDAV, Local: local} }

// multistatus accumulates a 207 body. Writing XML by hand keeps the
// prefixes Yandex and Apple clients expect and allows any requested name.
type multistatus struct{ b bytes.Buffer }

func newMultistatus() *multistatus {
	m := &multistatus{}
	m.b.WriteString(xml.Header)
	m.b.WriteString(`<D:multistatus xmlns:D="DAV:" xmlns:C="` + nsCalDAV + `" xmlns:CS="` + nsCS + `" xmlns:I="` + nsApple + `">`)
	return m
}

func escape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func hrefXML(p string) string {
	return "<D:href>" + escape((&url.URL{Path: p}).EscapedPath()) + "</D:href>"
}

func statusXML(code int) string {
	return fmt.Sprintf("<D:status>HTTP/1.1 %d %s</D:status>", code, http.StatusText(code))
}

// element writes <name>inner</name> with a known prefix or a local xmlns.
func element(name xml.Name, inner string) string {
	if p, ok := prefixes[name.Space]; ok {
		tag := p + ":" + name.Local
		if inner == "" {
			return "<" + tag + "/>"
		}
		return "<" + tag + ">" + inner + "</" + tag + ">"
	}
	return `<X:` + name.Local + ` xmlns:X="` + escape(name.Space) + `">` + inner + `</X:` + name.Local + `>`
}

// response writes one resource: the requested props it has under 200, the
// rest under 404. want == nil means "all it has" (allprop).
func (m *multistatus) response(href string, want []xml.Name, have []prop) {
	m.b.WriteString("<D:response>" + hrefXML(href))
	byName := map[xml.Name]prop{}
	for _, p := range have {
		byName[p.name] = p
	}
	var ok []prop
	var missing []xml.Name
	if want == nil {
		ok = have
	} else {
		for _, n := range want {
			if p, found := byName[n]; found {
				ok = append(ok, p)
			} else {
				missing = append(missing, n)
			}
		}
	}
	if len(ok) > 0 {
		m.b.WriteString("<D:propstat><D:prop>")
		for _, p := range ok {
			m.b.WriteString(element(p.name, p.inner))
		}
		m.b.WriteString("</D:prop>" + statusXML(http.StatusOK) + "</D:propstat>")
	}
	if len(missing) > 0 {
		m.b.WriteString("<D:propstat><D:prop>")
		for _, n := range missing {
			m.b.WriteString(element(n, ""))
		}
		m.b.WriteString("</D:prop>" + statusXML(http.StatusNotFound) + "</D:propstat>")
	}
	m.b.WriteString("</D:response>")
}

// status writes a response that is only a status (sync-collection deletions, 507).
func (m *multistatus) status(href string, code int) {
	m.b.WriteString("<D:response>" + hrefXML(href) + statusXML(code) + "</D:response>")
}

func (m *multistatus) serve(w http.ResponseWriter, syncToken string) {
	if syncToken != "" {
		m.b.WriteString("<D:sync-token>" + escape(syncToken) + "</D:sync-token>")
	}
	m.b.WriteString("</D:multistatus>")
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	w.Write(m.b.Bytes())
}

// davError answers a precondition failure: <D:error><D:cond/></D:error>.
func davError(w http.ResponseWriter, code int, cond xml.Name) {
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(code)
	io.WriteString(w, xml.Header+`<D:error xmlns:D="DAV:" xmlns:C="`+nsCalDAV+`">`+element(cond, "")+`</D:error>`)
}

// anyElem captures the name of any element.
type anyElem struct {
	XMLName xml.Name
}
