package dav

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// XML names the sources read.
var (
	nameMultistatus  = xml.Name{Space: NSDAV, Local: "multistatus"}
	nameResponse     = xml.Name{Space: NSDAV, Local: "response"}
	nameHref         = xml.Name{Space: NSDAV, Local: "href"}
	nameStatus       = xml.Name{Space: NSDAV, Local: "status"}
	namePropstat     = xml.Name{Space: NSDAV, Local: "propstat"}
	nameProp         = xml.Name{Space: NSDAV, Local: "prop"}
	NameSyncToken    = xml.Name{Space: NSDAV, Local: "sync-token"}
	NameGetETag      = xml.Name{Space: NSDAV, Local: "getetag"}
	NameResourceType = xml.Name{Space: NSDAV, Local: "resourcetype"}
	NameDisplayName  = xml.Name{Space: NSDAV, Local: "displayname"}
	NameReportSet    = xml.Name{Space: NSDAV, Local: "supported-report-set"}
	NameSyncReport   = xml.Name{Space: NSDAV, Local: "sync-collection"}
	NameCollection   = xml.Name{Space: NSDAV, Local: "collection"}
	NameCalendar     = xml.Name{Space: NSCalDAV, Local: "calendar"}
	NameCalendarData = xml.Name{Space: NSCalDAV, Local: "calendar-data"}
	NameAddressBook  = xml.Name{Space: NSCardDAV, Local: "addressbook"}
	NameAddressData  = xml.Name{Space: NSCardDAV, Local: "address-data"}
	NameCompSet      = xml.Name{Space: NSCalDAV, Local: "supported-calendar-component-set"}
	NameComp         = xml.Name{Space: NSCalDAV, Local: "comp"}
	NameGetCTag      = xml.Name{Space: NSCS, Local: "getctag"}
	NameColor        = xml.Name{Space: NSApple, Local: "calendar-color"}
)

const (
	NSDAV     = "DAV:"
	NSCalDAV  = "urn:ietf:params:xml:ns:caldav"
	NSCardDAV = "urn:ietf:params:xml:ns:carddav"
	NSCS      = "http://calendarserver.org/ns/"
	NSApple   = "http://apple.com/ns/ical/"
)

// Response is one <D:response> of a multistatus body.
type Response struct {
	Hrefs  []string // as sent (percent-encoded path or absolute URL)
	Status int      // response-level status, 0 when the answer is per property
	Props  map[xml.Name]*Prop
}

// Prop is one property from a 2xx propstat.
type Prop struct {
	Text  string             // character data, XML-normalized (CRLF → LF)
	Raw   []byte             // calendar-data and address-data only: the exact text, see rawText
	Elems []xml.StartElement // descendant elements, e.g. resourcetype's children
}

// Text is the trimmed character data of property n ("" if absent).
func (r *Response) Text(n xml.Name) string {
	if p := r.Props[n]; p != nil {
		return strings.TrimSpace(p.Text)
	}
	return ""
}

// Has reports whether property prop holds an element named elem.
func (r *Response) Has(prop, elem xml.Name) bool {
	if p := r.Props[prop]; p != nil {
		for _, e := range p.Elems {
			if e.Name == elem {
				return true
			}
		}
	}
	return false
}

// DecodeMultiStatus reads a 207 body one <response> at a time and calls fn
// for each, so a listing of 10,000 objects never becomes a tree in memory:
// what is held is one response's raw bytes (needed for calendar-data) and
// the decoded response. It returns the multistatus-level sync-token, if any.
// An error from fn stops the walk and is returned as is.
func DecodeMultiStatus(r io.Reader, fn func(*Response) error) (syncToken string, err error) {
	return decodeRec(r, &recorder{}, fn)
}

func decodeRec(r io.Reader, rec *recorder, fn func(*Response) error) (syncToken string, err error) {
	rec.br = bufio.NewReaderSize(r, 32<<10)
	d := xml.NewDecoder(rec)
	root, err := nextStart(d)
	if err != nil {
		return "", fmt.Errorf("multistatus: %w", err)
	}
	if root.Name != nameMultistatus {
		return "", fmt.Errorf("multistatus: root element is <%s %s>", root.Name.Space, root.Name.Local)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("multistatus: %w", syntaxErr(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name {
			case nameResponse:
				resp, err := readResponse(d, rec)
				if err != nil {
					return "", fmt.Errorf("multistatus: response: %w", err)
				}
				if err := fn(resp); err != nil {
					return "", err
				}
			case NameSyncToken:
				s, err := readText(d)
				if err != nil {
					return "", fmt.Errorf("multistatus: sync-token: %w", err)
				}
				syncToken = strings.TrimSpace(s)
			default:
				if err := d.Skip(); err != nil {
					return "", fmt.Errorf("multistatus: %w", syntaxErr(err))
				}
			}
			rec.forget(d.InputOffset())
		case xml.EndElement:
			return syncToken, nil // </multistatus>
		}
	}
}

// syntaxErr turns a bare io.EOF inside the document into a clear error.
func syntaxErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, syntaxErr(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

func readResponse(d *xml.Decoder, rec *recorder) (*Response, error) {
	resp := &Response{Props: map[xml.Name]*Prop{}}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, syntaxErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name {
			case nameHref:
				s, err := readText(d)
				if err != nil {
					return nil, err
				}
				resp.Hrefs = append(resp.Hrefs, strings.TrimSpace(s))
			case nameStatus:
				s, err := readText(d)
				if err != nil {
					return nil, err
				}
				if resp.Status, err = parseStatus(s); err != nil {
					return nil, err
				}
			case namePropstat:
				if err := readPropstat(d, rec, resp); err != nil {
					return nil, err
				}
			default:
				if err := d.Skip(); err != nil {
					return nil, syntaxErr(err)
				}
			}
		case xml.EndElement:
			if len(resp.Hrefs) == 0 {
				return nil, errors.New("no href")
			}
			return resp, nil
		}
	}
}

func readPropstat(d *xml.Decoder, rec *recorder, resp *Response) error {
	props := map[xml.Name]*Prop{}
	status := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return syntaxErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name {
			case nameProp:
				if err := readProp(d, rec, props); err != nil {
					return err
				}
			case nameStatus:
				s, err := readText(d)
				if err != nil {
					return err
				}
				if status, err = parseStatus(s); err != nil {
					return err
				}
			default:
				if err := d.Skip(); err != nil {
					return syntaxErr(err)
				}
			}
		case xml.EndElement:
			if status/100 == 2 {
				for k, v := range props {
					resp.Props[k] = v
				}
			}
			return nil
		}
	}
}

func readProp(d *xml.Decoder, rec *recorder, props map[xml.Name]*Prop) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return syntaxErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p := &Prop{}
			if t.Name == NameCalendarData || t.Name == NameAddressData {
				if p.Raw, err = readRaw(d, rec); err != nil {
					return fmt.Errorf("%s: %w", t.Name.Local, err)
				}
			} else if err := readAny(d, p); err != nil {
				return err
			}
			props[t.Name] = p
		case xml.EndElement:
			return nil
		}
	}
}

// readAny collects the text and descendant elements of the element just opened.
func readAny(d *xml.Decoder, p *Prop) error {
	var sb strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return syntaxErr(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			p.Elems = append(p.Elems, t.Copy())
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 1 {
				sb.Write(t)
			}
		}
	}
	p.Text = sb.String()
	return nil
}

func readText(d *xml.Decoder) (string, error) {
	var p Prop
	err := readAny(d, &p)
	return p.Text, err
}

// parseStatus reads "HTTP/1.1 404 Not Found".
func parseStatus(s string) (int, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, fmt.Errorf("bad status %q", s)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 100 || n > 999 {
		return 0, fmt.Errorf("bad status %q", s)
	}
	return n, nil
}

// readRaw returns the exact text of the element just opened (calendar-data).
//
// Why not the decoder's CharData: XML parsers must turn CRLF into LF (XML 1.0
// §2.11), and Go's does. Radicale (and, by RFC 4791 examples, most servers)
// put the .ics text with its CRLF line ends unescaped inside the element, so
// a conforming parse would not give back the bytes a GET returns. We let the
// decoder check well-formedness and take the raw bytes between the tags from
// the recorder, resolving only entities and CDATA sections ourselves.
func readRaw(d *xml.Decoder, rec *recorder) ([]byte, error) {
	start := d.InputOffset()
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return nil, syntaxErr(err)
		}
		switch tok.(type) {
		case xml.StartElement:
			return nil, errors.New("unexpected child element")
		case xml.EndElement:
			depth--
		}
	}
	raw := rec.slice(start, d.InputOffset())
	if i := bytes.LastIndexByte(raw, '<'); i >= 0 {
		raw = raw[:i] // drop </C:calendar-data>
	} else {
		raw = nil // <C:calendar-data/>
	}
	return unescapeText(raw)
}

// unescapeText resolves character/entity references and CDATA sections in
// the raw text content of an element, leaving every other byte (including
// CR) alone. The decoder already rejected malformed markup.
func unescapeText(raw []byte) ([]byte, error) {
	if bytes.IndexAny(raw, "&<") < 0 {
		return append([]byte(nil), raw...), nil
	}
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		switch raw[0] {
		case '&':
			end := bytes.IndexByte(raw, ';')
			if end < 0 {
				return nil, errors.New("unterminated entity")
			}
			r, ok := entity(string(raw[1:end]))
			if !ok {
				return nil, fmt.Errorf("unknown entity %q", raw[:end+1])
			}
			out = append(out, r...)
			raw = raw[end+1:]
		case '<':
			switch {
			case bytes.HasPrefix(raw, []byte("<![CDATA[")):
				end := bytes.Index(raw, []byte("]]>"))
				if end < 0 {
					return nil, errors.New("unterminated CDATA")
				}
				out = append(out, raw[9:end]...)
				raw = raw[end+3:]
			case bytes.HasPrefix(raw, []byte("<!--")):
				end := bytes.Index(raw, []byte("-->"))
				if end < 0 {
					return nil, errors.New("unterminated comment")
				}
				raw = raw[end+3:]
			default:
				return nil, errors.New("unexpected markup")
			}
		default:
			i := bytes.IndexAny(raw, "&<")
			if i < 0 {
				i = len(raw)
			}
			out = append(out, raw[:i]...)
			raw = raw[i:]
		}
	}
	return out, nil
}

func entity(name string) (string, bool) {
	switch name {
	case "lt":
		return "<", true
	case "gt":
		return ">", true
	case "amp":
		return "&", true
	case "quot":
		return `"`, true
	case "apos":
		return "'", true
	}
	if strings.HasPrefix(name, "#") {
		var n uint64
		var err error
		if strings.HasPrefix(name, "#x") || strings.HasPrefix(name, "#X") {
			n, err = strconv.ParseUint(name[2:], 16, 32)
		} else {
			n, err = strconv.ParseUint(name[1:], 10, 32)
		}
		if err != nil || n > 0x10FFFF {
			return "", false
		}
		return string(rune(n)), true
	}
	return "", false
}

// recorder feeds the XML decoder byte by byte (so the decoder does no
// read-ahead of its own and InputOffset maps exactly onto what we saw) and
// keeps the bytes since the last forget, i.e. at most one <response>.
type recorder struct {
	br   *bufio.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
	n    int64 // bytes read so far
}

// maxElement bounds one top-level element of a multistatus (one <response>
// with at most one calendar-data, escaped): the recorder holds it whole, so
// a 2 GB href must end in an error, not in gigabytes of memory.
const maxElement = maxObjectSize + 1<<20

// maxObjectSize is the largest object one <response> may carry inline
// (calendar-data of a multiget): calendar's own per-object limit.
const maxObjectSize = 32 << 20

// errElementTooLarge names the cap; an element this big is no calendar.
var errElementTooLarge = fmt.Errorf("an element of the answer is larger than %d MiB (a calendar object may take %d MiB)",
	maxElement>>20, maxObjectSize>>20)

func (r *recorder) ReadByte() (byte, error) {
	if len(r.buf) >= maxElement {
		return 0, errElementTooLarge
	}
	b, err := r.br.ReadByte()
	if err != nil {
		return 0, err
	}
	r.buf = append(r.buf, b)
	r.n++
	return b, nil
}

// Read exists to satisfy io.Reader; xml.Decoder only calls ReadByte.
func (r *recorder) Read(p []byte) (int, error) {
	for i := range p {
		b, err := r.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = b
	}
	return len(p), nil
}

// forget drops recorded bytes before stream offset off.
func (r *recorder) forget(off int64) {
	if k := off - r.base; k > 0 && k <= int64(len(r.buf)) {
		n := copy(r.buf, r.buf[k:])
		r.buf = r.buf[:n]
		r.base = off
	}
}

func (r *recorder) slice(from, to int64) []byte {
	return r.buf[from-r.base : to-r.base]
}
