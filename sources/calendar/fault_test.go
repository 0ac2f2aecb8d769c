package calendar_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

const faultUser = "fault@example.org"

var timeZero = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func seededEnv(t *testing.T, opts caldavdemo.Options) *demoEnv {
	t.Helper()
	e := newDemoEnv(t, opts)
	if err := caldavdemo.SeedDemo(e.srv, faultUser); err != nil {
		t.Fatal(err)
	}
	if err := caldavdemo.SeedBulk(e.srv, faultUser, "events-bulk", 60); err != nil {
		t.Fatal(err)
	}
	return e
}

func failuresContain(st *sourcetest.MemStore, subs ...string) bool {
	for _, f := range st.Failures {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(f, s)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestBrokenMultigetXMLFallsBackToGET(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	var broken atomic.Int32
	e.setRewrite(func(r *http.Request, status int, body []byte) (int, []byte) {
		if r.Method == "REPORT" && bytes.Contains(body, []byte("calendar-data")) && broken.Add(1) == 1 {
			return status, body[:len(body)/2] // cut mid-document
		}
		return status, body
	})
	st := sourcetest.New()
	backup(t, e.source(t), faultUser, st)
	if broken.Load() == 0 {
		t.Fatal("no multiget was broken; test is not testing anything")
	}
	if !failuresContain(st, "multiget", "unexpected EOF", "by GET instead") {
		t.Errorf("failures %v: want one naming the broken multiget", st.Failures)
	}
	e.assertMirror(t, st, faultUser) // nothing lost
}

func TestBrokenXMLListingFailsOnlyThatCollection(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{NoCTag: true, NoSyncCollection: true})
	bulkPath := e.srv.HomePath(faultUser) + "events-bulk/"
	fault := atomic.Bool{}
	fault.Store(true)
	e.setRewrite(func(r *http.Request, status int, body []byte) (int, []byte) {
		if fault.Load() && r.Method == "PROPFIND" && r.URL.Path == bulkPath {
			return status, append(body[:len(body)/3:len(body)/3], "<D:response><<<"...)
		}
		return status, body
	})
	st := sourcetest.New()
	backup(t, e.source(t), faultUser, st)
	if !failuresContain(st, "events-bulk", "list events-bulk") {
		t.Errorf("failures %v: want one for events-bulk's listing", st.Failures)
	}
	if len(st.Failures) != 1 {
		t.Errorf("failures %v: want exactly one", st.Failures)
	}
	if n := len(st.Items("events-bulk")); n != 0 {
		t.Errorf("events-bulk has %d committed items after a failed listing", n)
	}
	for _, cal := range []string{caldavdemo.DemoDefault, caldavdemo.DemoWork, caldavdemo.DemoTodos} {
		if len(st.Items(cal)) != len(e.srv.Objects(faultUser, cal)) {
			t.Errorf("%s incomplete although only events-bulk failed", cal)
		}
	}
	fault.Store(false)
	st.Failures = nil
	backup(t, e.source(t), faultUser, st)
	e.assertMirror(t, st, faultUser)
	if len(st.Failures) != 0 {
		t.Errorf("failures on the clean rerun: %v", st.Failures)
	}
}

func TestBrokenXMLInDiscoveryFailsTheUser(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	e.setRewrite(func(r *http.Request, status int, body []byte) (int, []byte) {
		if r.Method == "PROPFIND" && r.URL.Path == e.srv.HomePath(faultUser) {
			return status, []byte(`<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/x</D:href>`)
		}
		return status, body
	})
	st := sourcetest.New()
	err := e.source(t).Backup(context.Background(), user(faultUser), tokensFor(faultUser), st)
	if err == nil || !strings.Contains(err.Error(), "list collections") {
		t.Fatalf("err = %v, want a discovery error", err)
	}
	if len(st.Containers()) != 0 {
		t.Errorf("containers after failed discovery: %v", st.Containers())
	}
}

func TestNotFoundForListedHref(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	var once atomic.Bool
	e.cnt.hook = func(r *http.Request) (*http.Response, error) {
		// The object disappears between the listing and the multiget.
		if r.Method == "REPORT" && strings.HasSuffix(r.URL.Path, "/events-bulk/") && once.CompareAndSwap(false, true) {
			if err := e.srv.DeleteObject(faultUser, "events-bulk", "bulk-5.ics"); err != nil {
				t.Error(err)
			}
		}
		return nil, nil
	}
	st := sourcetest.New()
	backup(t, e.source(t), faultUser, st)
	if !failuresContain(st, "events-bulk/bulk-5.ics", "404") || len(st.Failures) != 1 {
		t.Fatalf("failures = %v, want exactly one 404 for bulk-5.ics", st.Failures)
	}
	if got, want := len(st.Items("events-bulk")), 59; got != want {
		t.Errorf("events-bulk has %d items, want %d", got, want)
	}
	if c := committedCursor(t, st, "events-bulk"); c.CTag != "" {
		t.Errorf("ctag %q committed despite a failed object: next run would skip the collection", c.CTag)
	}
	// The next run re-examines the collection and converges.
	st.Failures = nil
	backup(t, e.source(t), faultUser, st)
	e.assertMirror(t, st, faultUser)
	if len(st.Failures) != 0 || committedCursor(t, st, "events-bulk").CTag == "" {
		t.Errorf("rerun: failures %v, cursor %+v", st.Failures, committedCursor(t, st, "events-bulk"))
	}
}

func TestUnauthorizedMidRunReMintsOnce(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	e.allow("fresh-1", faultUser)
	var n atomic.Int32
	e.cnt.hook = func(r *http.Request) (*http.Response, error) {
		if n.Add(1) == 6 {
			e.revoke("tok-" + faultUser) // the token expires mid-run
		}
		return nil, nil
	}
	tok := &sourcetest.StaticTokens{Tok: "tok-" + faultUser, Next: func() string { return "fresh-1" }}
	st := sourcetest.New()
	if err := e.source(t).Backup(context.Background(), user(faultUser), tok, st); err != nil {
		t.Fatal(err)
	}
	if tok.Invalidated != 1 {
		t.Errorf("Invalidate called %d times, want 1", tok.Invalidated)
	}
	if len(st.Failures) != 0 {
		t.Errorf("failures: %v", st.Failures)
	}
	e.assertMirror(t, st, faultUser)
}

func TestUnauthorizedTwiceEndsTheRun(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	for _, auth := range []string{calendar.AuthOAuth, calendar.AuthBasic} {
		t.Run(auth, func(t *testing.T) {
			tok := &sourcetest.StaticTokens{Tok: "bad-1", Next: func() string { return "bad-2" }}
			st := sourcetest.New()
			err := e.source(t, func(c *calendar.Config) { c.Auth = auth }).Backup(context.Background(), user(faultUser), tok, st)
			if !errors.Is(err, sources.ErrUnauthorized) {
				t.Fatalf("err = %v, want ErrUnauthorized", err)
			}
			if tok.Invalidated != 1 {
				t.Errorf("Invalidate called %d times, want 1", tok.Invalidated)
			}
			if strings.Contains(err.Error(), "bad-") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestUnparsableICSStoredVerbatim(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	orig, _ := e.srv.Object(faultUser, caldavdemo.DemoTodos, "task-1.ics")
	junk := []byte("this is not iCalendar\r\nBEGIN:VTODO\r\nUID:half-a-todo\r\n<&>\r\n")
	var origX, junkX bytes.Buffer
	xml.EscapeText(&origX, orig)
	xml.EscapeText(&junkX, junk)
	e.setRewrite(func(r *http.Request, status int, body []byte) (int, []byte) {
		body = bytes.ReplaceAll(body, origX.Bytes(), junkX.Bytes())
		if r.Method == http.MethodGet {
			body = bytes.ReplaceAll(body, orig, junk)
		}
		return status, body
	})
	st := sourcetest.New()
	backup(t, e.source(t), faultUser, st)
	it, ok := st.Items(caldavdemo.DemoTodos)["task-1.ics"]
	if !ok {
		t.Fatal("unparsable object not stored")
	}
	if body, _ := st.Body(it.Hash); !bytes.Equal(body, junk) {
		t.Errorf("stored %q, want the server's bytes %q", body, junk)
	}
	if m := itemMeta(t, it); !m.Malformed || m.UID != "half-a-todo" {
		t.Errorf("meta = %+v, want malformed with the UID found", m)
	}
	if len(st.Failures) != 0 {
		t.Errorf("failures: %v", st.Failures)
	}
}

// A run cut in the middle of a collection resumes without fetching what it
// had committed, and the cut collection is not skipped by its ctag.
func TestResumeAfterCutMidCollection(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	st := sourcetest.New()
	st.DueEvery = 10
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var multigets atomic.Int32
	e.cnt.hook = func(r *http.Request) (*http.Response, error) {
		if r.Method == "REPORT" && strings.HasSuffix(r.URL.Path, "/events-bulk/") && multigets.Add(1) == 4 {
			cancel() // kill the run while it fetches the 4th batch
		}
		return nil, nil
	}
	src := e.source(t, func(c *calendar.Config) { c.MultigetBatch = 10 })
	err := src.Backup(ctx, user(faultUser), tokensFor(faultUser), st)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cut run: err = %v, want context.Canceled", err)
	}
	committed := len(st.Items("events-bulk"))
	if committed == 0 || committed >= 60 {
		t.Fatalf("cut run committed %d of 60 bulk items; the test needs a partial commit", committed)
	}
	if c := committedCursor(t, st, "events-bulk"); c.CTag != "" {
		t.Fatalf("mid-collection commit carries ctag %q", c.CTag)
	}

	// Resume: count the hrefs asked for in multigets.
	e.cnt.hook = nil
	var asked atomic.Int32
	e.cnt.hook = func(r *http.Request) (*http.Response, error) {
		if r.Method == "REPORT" && strings.HasSuffix(r.URL.Path, "/events-bulk/") && r.GetBody != nil {
			b, _ := r.GetBody()
			body, _ := io.ReadAll(b)
			if bytes.Contains(body, []byte("calendar-multiget")) {
				asked.Add(int32(bytes.Count(body, []byte("<D:href>"))))
			}
		}
		return nil, nil
	}
	uploads := st.BodyUploads
	backup(t, src, faultUser, st)
	e.assertMirror(t, st, faultUser)
	if got, want := int(asked.Load()), 60-committed; got != want {
		t.Errorf("resume asked for %d objects, want %d (only the uncommitted ones)", got, want)
	}
	// The cut also left events-default and todos (2 objects each) undone.
	if got, want := st.BodyUploads-uploads, 60-committed+4; got != want {
		t.Errorf("resume uploaded %d bodies, want %d", got, want)
	}
}

// An expired sync-token (403 valid-sync-token) falls back to a listing.
func TestInvalidSyncTokenFallsBackToListing(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{})
	st := sourcetest.New()
	src := e.source(t)
	backup(t, src, faultUser, st)
	mustPut(t, e, faultUser, "events-bulk", "bulk-1.ics", caldavdemo.BulkEvent(777, timeZero))
	if err := e.srv.DeleteObject(faultUser, "events-bulk", "bulk-2.ics"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.ForgetSyncHistory(faultUser, "events-bulk"); err != nil {
		t.Fatal(err)
	}
	e.cnt.reset()
	backup(t, src, faultUser, st)
	_, by := e.cnt.reset()
	bulk := e.srv.HomePath(faultUser) + "events-bulk/"
	if by["PROPFIND "+bulk] != 1 {
		t.Errorf("requests %v: want one listing of events-bulk after the refused token", by)
	}
	e.assertMirror(t, st, faultUser)
	if len(st.Failures) != 0 {
		t.Errorf("failures: %v", st.Failures)
	}
}

func TestSyncPagingFollows507(t *testing.T) {
	e := seededEnv(t, caldavdemo.Options{NoCTag: true, SyncPageSize: 7})
	st := sourcetest.New()
	src := e.source(t)
	backup(t, src, faultUser, st)
	for i := 0; i < 20; i++ {
		mustPut(t, e, faultUser, "events-bulk", "extra-"+string(rune('a'+i))+".ics", caldavdemo.BulkEvent(5000+i, timeZero))
	}
	e.cnt.reset()
	backup(t, src, faultUser, st)
	_, by := e.cnt.reset()
	if got := by["REPORT "+e.srv.HomePath(faultUser)+"events-bulk/"]; got < 4 {
		t.Errorf("events-bulk REPORTs = %d, want >= 3 sync pages + multiget", got)
	}
	e.assertMirror(t, st, faultUser)
}
