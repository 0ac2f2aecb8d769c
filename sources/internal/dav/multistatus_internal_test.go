package dav

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/memprobe"
)

func TestDecodeMultiStatus(t *testing.T) {
	const head = `<?xml version="1.0" encoding="utf-8"?>` + "\n"
	tests := []struct {
		name    string
		body    string
		wantErr string
		check   func(t *testing.T, rs []*Response, tok string)
	}{
		{
			name: "raw CRLF kept in calendar-data (Radicale style)",
			body: head + `<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/u%40x/c/1.ics</href><propstat><prop>` +
				`<getetag>"e1"</getetag><C:calendar-data>BEGIN:VCALENDAR` + "\r\n" + `SUMMARY:a &lt;b&gt; &amp; "q"` + "\r\n" + `END:VCALENDAR` + "\r\n" +
				`</C:calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`,
			check: func(t *testing.T, rs []*Response, _ string) {
				want := "BEGIN:VCALENDAR\r\nSUMMARY:a <b> & \"q\"\r\nEND:VCALENDAR\r\n"
				if got := string(rs[0].Props[NameCalendarData].Raw); got != want {
					t.Errorf("raw = %q, want %q", got, want)
				}
				if rs[0].Text(NameGetETag) != `"e1"` || rs[0].Hrefs[0] != "/u%40x/c/1.ics" {
					t.Errorf("etag/href = %q %q", rs[0].Text(NameGetETag), rs[0].Hrefs[0])
				}
			},
		},
		{
			name: "escaped CR/LF, numeric refs and CDATA (go-webdav style)",
			body: head + `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href><D:propstat><D:prop>` +
				`<calendar-data xmlns="urn:ietf:params:xml:ns:caldav">A&#xD;&#xA;B&#13;&#10;<![CDATA[<x>&amp;]]>&#x41F;</calendar-data>` +
				`</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`,
			check: func(t *testing.T, rs []*Response, _ string) {
				if got, want := string(rs[0].Props[NameCalendarData].Raw), "A\r\nB\r\n<x>&amp;П"; got != want {
					t.Errorf("raw = %q, want %q", got, want)
				}
			},
		},
		{
			name: "empty calendar-data, 404 propstat ignored, response status, sync-token",
			body: head + `<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">` +
				`<D:response><D:href>/a</D:href><D:propstat><D:prop><C:calendar-data/></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>` +
				`<D:propstat><D:prop><D:getetag/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response>` +
				`<D:response><D:href>/gone</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>` +
				`<D:sync-token>http://x/sync/9</D:sync-token></D:multistatus>`,
			check: func(t *testing.T, rs []*Response, tok string) {
				if p := rs[0].Props[NameCalendarData]; p == nil || len(p.Raw) != 0 {
					t.Errorf("empty calendar-data = %+v", p)
				}
				if _, ok := rs[0].Props[NameGetETag]; ok {
					t.Error("404 propstat property reported as present")
				}
				if rs[1].Status != 404 || tok != "http://x/sync/9" {
					t.Errorf("status %d token %q", rs[1].Status, tok)
				}
			},
		},
		{
			name: "collection properties",
			body: head + `<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/"><D:response><D:href>/h/c/</D:href><D:propstat><D:prop>` +
				`<D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname> Работа &amp; co </D:displayname><CS:getctag>7</CS:getctag>` +
				`<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>` +
				`<D:supported-report-set><D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report></D:supported-report-set>` +
				`</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`,
			check: func(t *testing.T, rs []*Response, _ string) {
				r := rs[0]
				if !r.Has(NameResourceType, NameCalendar) || !r.Has(NameReportSet, NameSyncReport) || r.Has(NameResourceType, NameComp) {
					t.Error("resourcetype / report set misread")
				}
				if r.Text(NameDisplayName) != "Работа & co" || r.Text(NameGetCTag) != "7" {
					t.Errorf("displayname %q ctag %q", r.Text(NameDisplayName), r.Text(NameGetCTag))
				}
			},
		},
		{name: "truncated document", body: head + `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href>`, wantErr: "unexpected EOF"},
		{name: "not XML", body: "<html>oops", wantErr: "multistatus"},
		{name: "wrong root", body: head + `<D:error xmlns:D="DAV:"/>`, wantErr: "root element"},
		{name: "child element inside calendar-data", body: head + `<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:response><D:href>/a</D:href><D:propstat><D:prop><C:calendar-data>x<b/>y</C:calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>`, wantErr: "unexpected child"},
		{name: "bad status line", body: head + `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href><D:status>teapot</D:status></D:response></D:multistatus>`, wantErr: "bad status"},
		{name: "response without href", body: head + `<D:multistatus xmlns:D="DAV:"><D:response><D:status>HTTP/1.1 200 OK</D:status></D:response></D:multistatus>`, wantErr: "no href"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rs []*Response
			tok, err := DecodeMultiStatus(strings.NewReader(tc.body), func(r *Response) error {
				rs = append(rs, r)
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, rs, tok)
		})
	}
}

func TestDecodeMultiStatusCallbackErrorStops(t *testing.T) {
	body := `<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href></D:response><D:response><D:href>/b</D:href></D:response></D:multistatus>`
	stop := errors.New("stop")
	n := 0
	_, err := DecodeMultiStatus(strings.NewReader(body), func(*Response) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d callbacks", err, n)
	}
}

// The recorder keeps at most one response: a long listing does not grow it.
func TestDecodeMultiStatusBoundedBuffer(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<D:multistatus xmlns:D="DAV:">`)
	for i := 0; i < 5000; i++ {
		b.WriteString(`<D:response><D:href>/c/` + strings.Repeat("x", 50) + `.ics</D:href><D:propstat><D:prop><D:getetag>"1"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>`)
	}
	b.WriteString(`</D:multistatus>`)
	rec := &recorder{}
	n, maxBuf := 0, 0
	_, err := decodeRec(strings.NewReader(b.String()), rec, func(*Response) error {
		n++
		maxBuf = max(maxBuf, cap(rec.buf))
		return nil
	})
	if err != nil || n != 5000 {
		t.Fatalf("err %v, %d responses", err, n)
	}
	if maxBuf > 4096 {
		t.Errorf("recorder grew to %d bytes for a %d-byte listing", maxBuf, b.Len())
	}
}

func TestUnescapeText(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"plain\r\n", "plain\r\n", ""},
		{"&lt;&gt;&amp;&quot;&apos;", `<>&"'`, ""},
		{"&#x1F600;", "😀", ""},
		{"<!-- c -->x", "x", ""},
		{"&bogus;", "", "unknown entity"},
		{"&amp", "", "unterminated"},
		{"<![CDATA[x", "", "unterminated CDATA"},
	}
	for _, tc := range tests {
		got, err := unescapeText([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q → %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// endless yields prefix, then n bytes of 'a' generated on the fly.
type endless struct {
	prefix string
	n      int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.prefix != "" {
		k := copy(p, e.prefix)
		e.prefix = e.prefix[k:]
		return k, nil
	}
	if e.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), e.n)
	for i := range p[:k] {
		p[i] = 'a'
	}
	e.n -= k
	return int(k), nil
}

// Issue 16.1: a 2 GB href (or any element) ends in an error naming the cap,
// with the heap bounded, instead of 6 GB of RSS.
func TestDecodeMultiStatusHugeElement(t *testing.T) {
	for _, prefix := range []string{
		`<D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/`,
		`<D:multistatus xmlns:D="DAV:"><D:sync-token>`,
		`<D:multistatus xmlns:D="DAV:"><D:junk a="`,
	} {
		var err error
		peak := memprobe.HeapPeak(func() {
			_, err = DecodeMultiStatus(&endless{prefix: prefix, n: 2 << 30}, func(*Response) error { return nil })
		})
		t.Logf("%s…: peak heap %d MiB: %v", prefix[len(prefix)-12:], peak>>20, err)
		if err == nil || !strings.Contains(err.Error(), "larger than 33 MiB") {
			t.Errorf("err = %v, want the element cap", err)
		}
		if peak > 512<<20 {
			t.Errorf("peak heap %d MiB: not bounded", peak>>20)
		}
	}
}
