package calendar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/internal/testpeer/radicalepeer"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// radicaleURL returns Y360_TEST_RADICALE_URL or skips (fails under
// Y360_TEST_REQUIRE_PEERS=1).
func radicaleURL(t *testing.T) string {
	t.Helper()
	return radicalepeer.URL(t)
}

// radicale is a test-side client to create and change data.
type radicale struct {
	t           *testing.T
	base, email string
	tok         string
	hc          *http.Client
}

func (r *radicale) do(method, p string, hdr map[string]string, body []byte) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(r.base, "/")+p, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(r.email, r.tok)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *radicale) home() string { return "/" + r.email + "/" }

func (r *radicale) mkcalendar(name, display, color, comp string) {
	r.t.Helper()
	body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop>`+
		`<D:displayname>%s</D:displayname><I:calendar-color>%s</I:calendar-color><C:supported-calendar-component-set><C:comp name="%s"/></C:supported-calendar-component-set>`+
		`</D:prop></D:set></C:mkcalendar>`, display, color, comp)
	if code, b := r.do("MKCALENDAR", r.home()+name+"/", map[string]string{"Content-Type": "application/xml"}, []byte(body)); code != http.StatusCreated {
		r.t.Fatalf("MKCALENDAR %s: %d %s", name, code, b)
	}
}

func (r *radicale) put(cal, name, ics string) {
	r.t.Helper()
	if code, b := r.do(http.MethodPut, r.home()+cal+"/"+name, map[string]string{"Content-Type": "text/calendar; charset=utf-8"}, []byte(ics)); code/100 != 2 {
		r.t.Fatalf("PUT %s/%s: %d %s", cal, name, code, b)
	}
}

func (r *radicale) delete(p string) {
	r.t.Helper()
	if code, b := r.do(http.MethodDelete, p, nil, nil); code/100 != 2 {
		r.t.Fatalf("DELETE %s: %d %s", p, code, b)
	}
}

func (r *radicale) get(cal, name string) []byte {
	r.t.Helper()
	code, b := r.do(http.MethodGet, r.home()+cal+"/"+name, nil, nil)
	if code != http.StatusOK {
		r.t.Fatalf("GET %s/%s: %d", cal, name, code)
	}
	return b
}

// putCollection creates (or replaces) collection cal with n generated
// events in one PUT of a whole VCALENDAR (Radicale splits it by UID and
// names the objects after the UIDs): 30x faster than n PUTs on Radicale.
func (r *radicale) putCollection(cal, display string, n int) {
	r.t.Helper()
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Yandex LLC//Yandex Calendar//EN\r\nX-WR-CALNAME:" + display + "\r\n")
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ev := caldavdemo.BulkEvent(i, start.Add(time.Duration(i)*time.Hour))
		b.WriteString(ev[strings.Index(ev, "BEGIN:VEVENT"):strings.Index(ev, "END:VCALENDAR")])
	}
	b.WriteString("END:VCALENDAR\r\n")
	if code, body := r.do(http.MethodPut, r.home()+cal+"/", map[string]string{"Content-Type": "text/calendar; charset=utf-8"}, []byte(b.String())); code/100 != 2 {
		r.t.Fatalf("PUT collection %s: %d %s", cal, code, body)
	}
}

// assertExact GETs every stored object of every container and compares bytes.
func (r *radicale) assertExact(st *sourcetest.MemStore) int {
	r.t.Helper()
	n := 0
	for _, cal := range st.Containers() {
		for id, it := range st.Items(cal) {
			body, _ := st.Body(it.Hash)
			if want := r.get(cal, id); !bytes.Equal(body, want) {
				r.t.Errorf("%s/%s: stored %d bytes differ from GET's %d bytes", cal, id, len(body), len(want))
			}
			n++
		}
	}
	return n
}

const radicaleBig = 1000

func TestRadicale(t *testing.T) {
	base := radicaleURL(t)
	run := time.Now().UnixNano() % 1e9
	emails := []string{
		fmt.Sprintf("cal-big-%d@example.org", run),
		fmt.Sprintf("cal-b-%d@example.org", run),
		fmt.Sprintf("cal-c-%d@example.org", run),
	}
	rs := make([]*radicale, len(emails))
	setup := time.Now()
	for i, email := range emails {
		r := &radicale{t: t, base: base, email: email, tok: radicalepeer.Token(t, base, email), hc: &http.Client{Timeout: time.Minute}}
		if i == 0 {
			t.Logf("Radicale accepts %s tokens", map[bool]string{true: "emulator-minted", false: `fallback "valid-<email>"`}[strings.HasPrefix(r.tok, y360emu.TokenPrefix)])
		}
		rs[i] = r
		n := 20
		if i == 0 {
			n = radicaleBig
		}
		r.putCollection("events-default", "Мои события", n)
		r.mkcalendar("events-2", "Работа &amp; встречи", "#ff7b00ff", "VEVENT")
		r.mkcalendar("todos-1", "Не забыть", "#2bb24cff", "VTODO")
		r.put("events-2", "yandex-1.ics", caldavdemo.BulkEvent(42+i, time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)))
		r.put("todos-1", "t1.ics", strings.ReplaceAll(todoICS, "UID:x", fmt.Sprintf("UID:todo-%d", i)))
		r.put("events-default", "1716201145402.ics", caldavdemo.BulkEvent(100000+i, time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)))
	}
	t.Logf("setup: %d users, %d+%d events in %v", len(emails), radicaleBig, 2*20, time.Since(setup).Round(time.Millisecond))

	cnt := newCounter()
	newSource := func(email string) (*calendar.Source, *sourcetest.StaticTokens) {
		cfg := calendar.NewConfig()
		cfg.URL = base
		cfg.Auth = calendar.AuthBasic
		if b, err := strconv.Atoi(os.Getenv("Y360_TEST_CALDAV_BATCH")); err == nil {
			cfg.MultigetBatch = b // for measuring only
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		tok := &sourcetest.StaticTokens{Tok: radicalepeer.Token(t, base, email)}
		tok.Next = func() string { return radicalepeer.Token(t, base, email) }
		return calendar.New(cfg, &http.Client{Transport: cnt}), tok
	}
	stores := make([]*sourcetest.MemStore, len(emails))
	for i, email := range emails {
		src, tok := newSource(email)
		st := sourcetest.New()
		stores[i] = st
		cnt.reset()
		t0 := time.Now()
		if err := src.Backup(context.Background(), user(email), tok, st); err != nil {
			t.Fatalf("full backup of %s: %v", email, err)
		}
		el := time.Since(t0)
		n, by := cnt.reset()
		took := cnt.timings()
		items := 0
		for _, c := range st.Containers() {
			items += len(st.Items(c))
		}
		t.Logf("full backup %s: %d objects in %v (%.0f objects/s), %d requests, server time to headers %v", email, items, el.Round(time.Millisecond), float64(items)/el.Seconds(), n, took)
		if want := 3 + map[bool]int{true: radicaleBig, false: 20}[i == 0]; items != want { // + 3 single PUTs
			t.Errorf("%s: %d objects stored, want %d", email, items, want)
		}
		if gets := countMethod(by, http.MethodGet); gets > 1 {
			t.Errorf("full backup made %d GETs: multiget text was not taken as exact (probe failed?)", gets)
		}
		if len(st.Failures) != 0 {
			t.Fatalf("failures: %v", st.Failures)
		}
		if got := rs[i].assertExact(st); got != items {
			t.Errorf("checked %d of %d", got, items)
		}
	}

	// The first pass above also paid for Radicale building its item cache
	// (its PROPFINDs dominate); a second full pass into an empty store
	// measures our side with a warm server.
	{
		src, tok := newSource(emails[0])
		st := sourcetest.New()
		cnt.reset()
		cnt.timings()
		t0 := time.Now()
		if err := src.Backup(context.Background(), user(emails[0]), tok, st); err != nil {
			t.Fatal(err)
		}
		el := time.Since(t0)
		n, _ := cnt.reset()
		items := len(st.Items("events-default")) + len(st.Items("events-2")) + len(st.Items("todos-1"))
		t.Logf("full backup again (warm server) %s: %d objects in %v (%.0f objects/s), %d requests, server time to headers %v",
			emails[0], items, el.Round(time.Millisecond), float64(items)/el.Seconds(), n, cnt.timings())
	}

	// No change: at most one request per collection beyond discovery.
	noChange := func(label string) {
		t.Helper()
		for i, email := range emails {
			src, tok := newSource(email)
			cnt.reset()
			uploads, commits := stores[i].BodyUploads, stores[i].Commits
			if err := src.Backup(context.Background(), user(email), tok, stores[i]); err != nil {
				t.Fatal(err)
			}
			n, by := cnt.reset()
			ncol := len(stores[i].Containers())
			t.Logf("%s %s: %d requests (%d collections): %v", label, email, n, ncol, by)
			if n > discoveryRequests+ncol {
				t.Errorf("%s: %d requests, want <= %d", label, n, discoveryRequests+ncol)
			}
			if stores[i].BodyUploads != uploads || stores[i].Commits != commits {
				t.Errorf("%s wrote to the store", label)
			}
		}
	}
	noChange("no-change run")

	// Add, change, delete; drop one calendar, create another.
	big := rs[0]
	ids := sortedIDs(stores[0].Items("events-default"))
	changedID, deletedID := ids[5], ids[7]
	big.put("events-default", "101000.ics", caldavdemo.BulkEvent(5000, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	old := string(big.get("events-default", changedID))
	big.put("events-default", changedID, regexpSummary.ReplaceAllString(old, "SUMMARY:Изменено\r\n"))
	big.delete(big.home() + "events-default/" + deletedID)
	big.put("todos-1", "t2.ics", strings.ReplaceAll(todoICS, "UID:x", "UID:todo-new"))
	rs[1].delete(rs[1].home() + "events-2/")
	rs[1].mkcalendar("events-3", "Новый", "#000000ff", "VEVENT")
	rs[1].put("events-3", "n.ics", caldavdemo.BulkEvent(7, time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)))

	for i, email := range emails {
		src, tok := newSource(email)
		cnt.reset()
		if err := src.Backup(context.Background(), user(email), tok, stores[i]); err != nil {
			t.Fatal(err)
		}
		n, by := cnt.reset()
		t.Logf("incremental %s: %d requests: %v", email, n, by)
		if len(stores[i].Failures) != 0 {
			t.Fatalf("failures: %v", stores[i].Failures)
		}
		rs[i].assertExact(stores[i])
	}
	bigItems := stores[0].Items("events-default")
	if _, ok := bigItems["101000.ics"]; !ok {
		t.Error("added event not captured")
	}
	if _, ok := bigItems[deletedID]; ok {
		t.Error("deleted event still live")
	}
	if body, _ := stores[0].Body(bigItems[changedID].Hash); !strings.Contains(string(body), "SUMMARY:Изменено") {
		t.Error("changed event not captured")
	}
	if _, ok := stores[0].Items("todos-1")["t2.ics"]; !ok {
		t.Error("added todo not captured")
	}
	if got := strings.Join(stores[1].Containers(), ","); got != "events-3,events-default,todos-1" {
		t.Errorf("containers after drop+create = %s", got)
	}
	noChange("no-change run after changes")
}

var regexpSummary = regexp.MustCompile(`SUMMARY:[^\r\n]*\r?\n`)

func sortedIDs(items map[string]sources.Item) []string {
	ids := make([]string, 0, len(items))
	for id := range items {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func countMethod(by map[string]int, method string) int {
	n := 0
	for k, v := range by {
		if strings.HasPrefix(k, method+" ") {
			n += v
		}
	}
	return n
}

const todoICS = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Yandex LLC//Yandex Calendar//EN\r\nBEGIN:VTODO\r\nUID:x\r\nDTSTAMP:20260110T080000Z\r\n" +
	"SUMMARY:Задача с длинным названием, которое Radicale сложит по 75 октетов при сохранении\r\nX-YANDEX-TODO-LIST:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
