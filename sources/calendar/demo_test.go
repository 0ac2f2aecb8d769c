package calendar_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestDemoFullThenIncremental(t *testing.T) {
	tests := []struct {
		name string
		opts caldavdemo.Options
		// maxPerCollection bounds requests per unchanged collection beyond discovery.
		maxPerCollection int
	}{
		{"ctag+sync", caldavdemo.Options{}, 0},
		{"ctag only", caldavdemo.Options{NoSyncCollection: true}, 0},
		{"sync only", caldavdemo.Options{NoCTag: true}, 1},
		{"sync paged", caldavdemo.Options{NoCTag: true, SyncPageSize: 7}, 1},
		{"listing only", caldavdemo.Options{NoCTag: true, NoSyncCollection: true}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newDemoEnv(t, tc.opts)
			const alice, bob = "alice@example.org", "bob@example.org"
			if err := caldavdemo.SeedDemo(e.srv, alice); err != nil {
				t.Fatal(err)
			}
			if err := caldavdemo.SeedBulk(e.srv, alice, "events-bulk", 120); err != nil {
				t.Fatal(err)
			}
			if err := caldavdemo.SeedDemo(e.srv, bob); err != nil {
				t.Fatal(err)
			}
			src := e.source(t)
			st, stBob := sourcetest.New(), sourcetest.New()
			st.DueEvery = 25

			// Full.
			backup(t, src, alice, st)
			backup(t, src, bob, stBob)
			e.assertMirror(t, st, alice)
			e.assertMirror(t, stBob, bob)
			if len(st.Failures) != 0 {
				t.Fatalf("failures: %v", st.Failures)
			}
			e.cnt.reset()

			// No change: discovery plus at most maxPerCollection per collection.
			uploads, commits := st.BodyUploads, st.Commits
			backup(t, src, alice, st)
			n, by := e.cnt.reset()
			ncol := len(e.srv.Calendars(alice))
			t.Logf("no-change run: %d requests for %d collections: %v", n, ncol, by)
			if max := discoveryRequests + tc.maxPerCollection*ncol; n > max {
				t.Errorf("no-change run made %d requests, want <= %d: %v", n, max, by)
			}
			if st.BodyUploads != uploads || st.Commits != commits {
				t.Errorf("no-change run wrote: uploads %d→%d, commits %d→%d", uploads, st.BodyUploads, commits, st.Commits)
			}

			// Changes between runs: add, change, delete, new and removed
			// calendars, a renamed one.
			mustPut(t, e, alice, caldavdemo.DemoDefault, "new-1.ics", caldavdemo.BulkEvent(9001, time.Now()))
			oldBulk3 := st.Items("events-bulk")["bulk-3.ics"]
			mustPut(t, e, alice, "events-bulk", "bulk-3.ics", caldavdemo.BulkEvent(9003, time.Now()))
			if err := e.srv.DeleteObject(alice, "events-bulk", "bulk-7.ics"); err != nil {
				t.Fatal(err)
			}
			if err := e.srv.DeleteObject(alice, caldavdemo.DemoTodos, "task-2.ics"); err != nil {
				t.Fatal(err)
			}
			if err := e.srv.DeleteCalendar(alice, caldavdemo.DemoWork); err != nil {
				t.Fatal(err)
			}
			if err := e.srv.CreateCalendar(alice, "todos-9", caldavdemo.CalendarInfo{DisplayName: "Покупки", Components: []string{"VTODO"}}); err != nil {
				t.Fatal(err)
			}
			if err := e.srv.UpdateCalendar(alice, caldavdemo.DemoDefault, caldavdemo.CalendarInfo{DisplayName: "Личное", Color: "#000000"}); err != nil {
				t.Fatal(err)
			}
			uploads = st.BodyUploads
			backup(t, src, alice, st)
			e.assertMirror(t, st, alice)
			if got := st.Items("events-bulk")["bulk-3.ics"]; got.Hash == oldBulk3.Hash {
				t.Error("changed bulk-3.ics still has its old body")
			}
			if _, ok := st.Items(caldavdemo.DemoDefault)["new-1.ics"]; !ok {
				t.Error("added new-1.ics not captured")
			}
			if got := st.BodyUploads - uploads; got != 2 {
				t.Errorf("incremental run uploaded %d bodies, want 2 (new + changed)", got)
			}
			if c := committedCursor(t, st, caldavdemo.DemoDefault); c.DisplayName != "Личное" || c.Color != "#000000" {
				t.Errorf("renamed calendar cursor = %+v", c)
			}
			if len(st.Failures) != 0 {
				t.Fatalf("failures: %v", st.Failures)
			}

			// And quiet again.
			e.cnt.reset()
			backup(t, src, alice, st)
			n, by = e.cnt.reset()
			ncol = len(e.srv.Calendars(alice))
			if max := discoveryRequests + tc.maxPerCollection*ncol; n > max {
				t.Errorf("second no-change run made %d requests, want <= %d: %v", n, max, by)
			}
		})
	}
}

func mustPut(t *testing.T, e *demoEnv, email, cal, name, ics string) {
	t.Helper()
	if _, err := e.srv.PutObject(email, cal, name, []byte(ics)); err != nil {
		t.Fatal(err)
	}
}

// The demo set itself: what the issue asks the demo to show survives intact.
func TestDemoSetContent(t *testing.T) {
	e := newDemoEnv(t, caldavdemo.Options{})
	const u = "demo@example.org"
	if err := caldavdemo.SeedDemo(e.srv, u); err != nil {
		t.Fatal(err)
	}
	st := sourcetest.New()
	backup(t, e.source(t), u, st)

	tests := []struct {
		cal, obj, uid, comp string
		contains            []string
	}{
		{caldavdemo.DemoDefault, "1716201145402.ics", "Rp8kvzXByandex.ru", "VEVENT", []string{"RRULE:FREQ=WEEKLY", "RECURRENCE-ID;TZID=Europe/Moscow:20260202T110000", "EXDATE"}},
		{caldavdemo.DemoDefault, "b6f4d1c0a7e24d52yandex.ru.ics", "5c1bd2e8-1f0a-4d4e-9b7e-telemost@yandex.ru", "VEVENT", []string{"X-TELEMOST-CONFERENCE:https://telemost.yandex.ru/j/12345678901234", "X-TELEMOST-REQUIRED:TRUE"}},
		{caldavdemo.DemoWork, "2f9a0c.ics", "all-day-7e3f@yandex.ru", "VEVENT", []string{"SUMMARY:Квартальный отчёт"}},
		{caldavdemo.DemoTodos, "task-1.ics", "todo-77a1@yandex.ru", "VTODO", nil},
		{caldavdemo.DemoTodos, "task-2.ics", "todo-77a2@yandex.ru", "VTODO", []string{"STATUS:COMPLETED"}},
	}
	for _, tc := range tests {
		t.Run(tc.obj, func(t *testing.T) {
			it, ok := st.Items(tc.cal)[tc.obj]
			if !ok {
				t.Fatalf("%s/%s not stored", tc.cal, tc.obj)
			}
			m := itemMeta(t, it)
			if m.UID != tc.uid || m.Component != tc.comp || m.Malformed || m.ETag == "" || !strings.HasSuffix(m.Href, "/"+tc.obj) {
				t.Errorf("meta = %+v", m)
			}
			body, _ := st.Body(it.Hash)
			for _, s := range tc.contains {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q", s)
				}
			}
		})
	}
	c := committedCursor(t, st, caldavdemo.DemoWork)
	if c.DisplayName != "Работа и встречи" || c.Color != "#ff7b00" || fmt.Sprint(c.Components) != "[VEVENT]" || c.CTag == "" || c.SyncToken == "" {
		t.Errorf("work cursor = %+v", c)
	}
	if c := committedCursor(t, st, caldavdemo.DemoTodos); fmt.Sprint(c.Components) != "[VTODO]" {
		t.Errorf("todos cursor = %+v", c)
	}
}
