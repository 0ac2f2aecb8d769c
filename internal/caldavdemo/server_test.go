package caldavdemo_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"

	"github.com/y360backup/y360backup/internal/caldavdemo"
)

const alice, bob = "alice@example.org", "bob@example.org"

func newServer(t *testing.T, opts caldavdemo.Options) (*caldavdemo.Server, *httptest.Server) {
	t.Helper()
	opts.Validate = func(tok string) (string, bool) {
		email, ok := strings.CutPrefix(tok, "tok-")
		return email, ok
	}
	s := caldavdemo.New(opts)
	if err := caldavdemo.SeedDemo(s, alice); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func do(t *testing.T, ts *httptest.Server, method, path, auth, depth, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if depth != "" {
		req.Header.Set("Depth", depth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const propfindCtag = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/">` +
	`<D:prop><D:displayname/><CS:getctag/><D:sync-token/><I:calendar-color/><D:resourcetype/></D:prop></D:propfind>`

func TestAuth(t *testing.T) {
	_, ts := newServer(t, caldavdemo.Options{})
	basic := func(u, p string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"oauth", "OAuth tok-" + alice, 207},
		{"bearer", "Bearer tok-" + alice, 207},
		{"bad token", "OAuth nope", 401},
		{"basic", basic(alice, "tok-"+alice), 207},
		{"basic, token of another user", basic(alice, "tok-"+bob), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, h, _ := do(t, ts, "PROPFIND", "/", tc.auth, "0", "")
			if code != tc.want {
				t.Fatalf("status %d, want %d", code, tc.want)
			}
			if code == 401 && !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), ","), "OAuth") {
				t.Error("401 without WWW-Authenticate: OAuth")
			}
		})
	}
}

func TestPropfindHomeHasCTagSyncTokenColor(t *testing.T) {
	s, ts := newServer(t, caldavdemo.Options{})
	code, _, body := do(t, ts, "PROPFIND", s.HomePath(alice), "OAuth tok-"+alice, "1", propfindCtag)
	if code != 207 {
		t.Fatalf("status %d: %s", code, body)
	}
	for _, want := range []string{"<CS:getctag>", "<D:sync-token>http://caldavdemo.invalid/sync/", "<I:calendar-color>#ff7b00</I:calendar-color>",
		"<D:displayname>Работа и встречи</D:displayname>", "/calendars/alice@example.org/todos-7731/", "<C:calendar/>"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q", want)
		}
	}

	s2, ts2 := newServer(t, caldavdemo.Options{NoCTag: true, NoSyncCollection: true})
	_, _, body = do(t, ts2, "PROPFIND", s2.HomePath(alice)+caldavdemo.DemoWork+"/", "OAuth tok-"+alice, "0", propfindCtag)
	if !strings.Contains(body, "<CS:getctag/>") || !strings.Contains(body, "404 Not Found") || strings.Contains(body, "<CS:getctag>") {
		t.Errorf("NoCTag: getctag should be in a 404 propstat: %s", body)
	}
}

func TestCTagChangesOnWriteOnly(t *testing.T) {
	s, ts := newServer(t, caldavdemo.Options{})
	ctag := func() string {
		_, _, body := do(t, ts, "PROPFIND", s.HomePath(alice)+caldavdemo.DemoTodos+"/", "OAuth tok-"+alice, "0", propfindCtag)
		i := strings.Index(body, "<CS:getctag>")
		return body[i : i+strings.Index(body[i:], "</")]
	}
	c0 := ctag()
	if c0 != ctag() {
		t.Fatal("ctag changed without a write")
	}
	if err := s.UpdateCalendar(alice, caldavdemo.DemoTodos, caldavdemo.CalendarInfo{DisplayName: "x"}); err != nil || ctag() != c0 {
		t.Fatal("renaming changed the ctag")
	}
	if err := s.DeleteObject(alice, caldavdemo.DemoTodos, "task-1.ics"); err != nil {
		t.Fatal(err)
	}
	if ctag() == c0 {
		t.Fatal("ctag unchanged after a delete")
	}
}

// go-webdav's own client works against the demo, and GET serves exactly the
// stored bytes with the etag PutObject returned.
func TestStandardClient(t *testing.T) {
	s, ts := newServer(t, caldavdemo.Options{})
	hc := webdav.HTTPClientWithBasicAuth(ts.Client(), alice, "tok-"+alice)
	c, err := caldav.NewClient(hc, ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cals, err := c.FindCalendars(ctx, s.HomePath(alice))
	if err != nil || len(cals) != 3 {
		t.Fatalf("FindCalendars = %d, %v", len(cals), err)
	}
	p := s.HomePath(alice) + caldavdemo.DemoDefault + "/b6f4d1c0a7e24d52yandex.ru.ics"
	objs, err := c.MultiGetCalendar(ctx, s.HomePath(alice)+caldavdemo.DemoDefault+"/", &caldav.CalendarMultiGet{Paths: []string{p}, CompRequest: caldav.CalendarCompRequest{AllProps: true, AllComps: true}})
	if err != nil || len(objs) != 1 {
		t.Fatalf("multiget = %v, %v", objs, err)
	}
	if v := objs[0].Data.Children[0].Props.Get("X-TELEMOST-CONFERENCE"); v == nil || !strings.Contains(v.Value, "telemost.yandex.ru") {
		t.Error("X-TELEMOST-CONFERENCE lost")
	}
	want, _ := s.Object(alice, caldavdemo.DemoDefault, "b6f4d1c0a7e24d52yandex.ru.ics")
	code, h, body := do(t, ts, "GET", p, "OAuth tok-"+alice, "", "")
	if code != 200 || body != string(want) || h.Get("ETag") != `"`+objs[0].ETag+`"` {
		t.Errorf("GET: %d, etag %s vs %s, bytes equal %v", code, h.Get("ETag"), objs[0].ETag, body == string(want))
	}

	// PUT through the client, then the object is served.
	cal := objs[0].Data
	cal.Children[0].Props.SetText("SUMMARY", "changed")
	if _, err := c.PutCalendarObject(ctx, p, cal); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Object(alice, caldavdemo.DemoDefault, "b6f4d1c0a7e24d52yandex.ru.ics")
	if !bytes.Contains(got, []byte("SUMMARY:changed")) {
		t.Error("PUT not stored")
	}

	// Another user's objects are out of reach.
	if code, _, _ := do(t, ts, "GET", p, "OAuth tok-"+bob, "", ""); code != http.StatusForbidden {
		t.Errorf("bob GETs alice's event: %d", code)
	}
}

func syncBody(token string) string {
	return `<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>` + token + `</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
}

func tokenOf(t *testing.T, body string) string {
	t.Helper()
	i := strings.LastIndex(body, "<D:sync-token>")
	if i < 0 {
		t.Fatalf("no sync-token in %s", body)
	}
	rest := body[i+len("<D:sync-token>"):]
	return rest[:strings.Index(rest, "<")]
}

func TestSyncCollection(t *testing.T) {
	s, ts := newServer(t, caldavdemo.Options{SyncPageSize: 2})
	col := s.HomePath(alice) + caldavdemo.DemoDefault + "/"
	auth := "OAuth tok-" + alice
	code, _, body := do(t, ts, "REPORT", col, auth, "", syncBody(""))
	if code != 207 || strings.Count(body, "<D:getetag>") != 2 {
		t.Fatalf("initial sync: %d %s", code, body)
	}
	tok := tokenOf(t, body)

	if err := s.DeleteObject(alice, caldavdemo.DemoDefault, "1716201145402.ics"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := s.PutObject(alice, caldavdemo.DemoDefault, "n"+string(rune('0'+i))+".ics", []byte(caldavdemo.BulkEvent(i, time.Now()))); err != nil {
			t.Fatal(err)
		}
	}
	// 4 changes, pages of 2: first page is truncated (507 on the collection).
	_, _, body = do(t, ts, "REPORT", col, auth, "", syncBody(tok))
	if !strings.Contains(body, "507 Insufficient Storage") || !strings.Contains(body, "1716201145402.ics</D:href><D:status>HTTP/1.1 404") {
		t.Fatalf("page 1: %s", body)
	}
	_, _, body = do(t, ts, "REPORT", col, auth, "", syncBody(tokenOf(t, body)))
	if strings.Contains(body, "507") || strings.Count(body, "<D:getetag>") != 2 {
		t.Fatalf("page 2: %s", body)
	}
	if err := s.ForgetSyncHistory(alice, caldavdemo.DemoDefault); err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, ts, "REPORT", col, auth, "", syncBody(tok))
	if code != 403 || !strings.Contains(body, "valid-sync-token") {
		t.Fatalf("forgotten token: %d %s", code, body)
	}
	if code, _, _ = do(t, ts, "REPORT", col, auth, "", syncBody("garbage")); code != 403 {
		t.Fatalf("garbage token: %d", code)
	}
}

func TestNormalizedBytesAreStable(t *testing.T) {
	s := caldavdemo.New(caldavdemo.Options{})
	s.AddUser(alice)
	if err := caldavdemo.SeedBulk(s, alice, "events-bulk", 3); err != nil {
		t.Fatal(err)
	}
	// Unfolded CRLF text with sorted properties: what go-ical's encoder writes.
	got, _ := s.Object(alice, "events-bulk", "bulk-1.ics")
	if !bytes.HasPrefix(got, []byte("BEGIN:VCALENDAR\r\n")) || bytes.Contains(bytes.ReplaceAll(got, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("unexpected serialization: %q", got)
	}
	if _, err := s.PutObject(alice, "events-bulk", "bad.ics", []byte("not ical")); err == nil {
		t.Error("PutObject accepted garbage")
	}
}

func TestMkcalendar(t *testing.T) {
	s, ts := newServer(t, caldavdemo.Options{})
	body := `<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>` +
		`<D:displayname>Отпуск</D:displayname><I:calendar-color>#123456</I:calendar-color>` +
		`<C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`
	p := s.HomePath(alice) + "todos-new/"
	if code, _, b := do(t, ts, "MKCALENDAR", p, "OAuth tok-"+alice, "", body); code != http.StatusCreated {
		t.Fatalf("MKCALENDAR: %d %s", code, b)
	}
	if code, _, _ := do(t, ts, "MKCALENDAR", p, "OAuth tok-"+alice, "", body); code != http.StatusMethodNotAllowed {
		t.Errorf("second MKCALENDAR: %d, want 405", code)
	}
	_, _, got := do(t, ts, "PROPFIND", p, "OAuth tok-"+alice, "0", "")
	for _, want := range []string{"<D:displayname>Отпуск</D:displayname>", "#123456", `<C:comp name="VTODO"/>`} {
		if !strings.Contains(got, want) {
			t.Errorf("PROPFIND lacks %q: %s", want, got)
		}
	}
}
