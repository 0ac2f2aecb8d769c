package calendar_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// demoRestore is a demo server, the calendar source against it and a
// repository on sinks/mem.
type demoRestore struct {
	*demoEnv
	src  *calendar.Source
	repo *engine.Repository
}

func newDemoRestore(t *testing.T, mutate ...func(*calendar.Config)) *demoRestore {
	t.Helper()
	e := newDemoEnv(t, caldavdemo.Options{})
	return &demoRestore{demoEnv: e, src: e.source(t, mutate...), repo: newRepo(t, mem.New())}
}

func (d *demoRestore) tokens(u sources.User) sources.TokenSource { return tokensFor(u.Email) }

func (d *demoRestore) backup(t *testing.T, email string) *engine.Snapshot {
	t.Helper()
	return backupRun(t, d.repo, d.src, user(email), d.tokens)
}

func (d *demoRestore) opts(snap *engine.Snapshot) engine.RestoreOptions {
	return restoreOpts(snap, d.src, d.tokens)
}

func (d *demoRestore) setHook(h func(*http.Request) (*http.Response, error)) {
	d.cnt.mu.Lock()
	defer d.cnt.mu.Unlock()
	d.cnt.hook = h
}

// account is every object of a user: calendar → object name → bytes GET serves.
type account map[string]map[string][]byte

func (d *demoRestore) account(email string) account {
	a := account{}
	for _, cal := range d.srv.Calendars(email) {
		a[cal] = map[string][]byte{}
		for _, name := range d.srv.Objects(email, cal) {
			a[cal][name], _ = d.srv.Object(email, cal, name)
		}
	}
	return a
}

func (a account) count() int {
	n := 0
	for _, objs := range a {
		n += len(objs)
	}
	return n
}

// assertHolds checks that got has every object of want (in the collection
// named by rename, default the same name), byte for byte.
func assertHolds(t *testing.T, got, want account, rename func(string) string) {
	t.Helper()
	for cal, objs := range want {
		dst := cal
		if rename != nil {
			dst = rename(cal)
		}
		for name, b := range objs {
			g, ok := got[dst][name]
			switch {
			case !ok:
				t.Errorf("%s/%s missing (restored from %s)", dst, name, cal)
			case !bytes.Equal(g, b):
				t.Errorf("%s/%s: %d bytes differ from the %d bytes GET returned before", dst, name, len(g), len(b))
			}
		}
	}
}

func (d *demoRestore) wipe(t *testing.T, email string) {
	t.Helper()
	for _, cal := range d.srv.Calendars(email) {
		if err := d.srv.DeleteCalendar(email, cal); err != nil {
			t.Fatal(err)
		}
	}
}

func seedAlice(t *testing.T, srv *caldavdemo.Server, bulk int) {
	t.Helper()
	if err := caldavdemo.SeedDemo(srv, alice); err != nil {
		t.Fatal(err)
	}
	if bulk > 0 {
		if err := caldavdemo.SeedBulk(srv, alice, "events-bulk", bulk); err != nil {
			t.Fatal(err)
		}
	}
}

const alice, bob = "alice@example.org", "bob@example.org"

// Back up, delete everything, restore in place: every object comes back
// byte for byte under its name, collections with their component sets;
// a rerun writes nothing.
func TestRestoreDemoInPlaceRoundTrip(t *testing.T) {
	d := newDemoRestore(t)
	seedAlice(t, d.srv, 60)
	before := d.account(alice)
	snap := d.backup(t, alice)
	d.wipe(t, alice)

	d.cnt.reset()
	opts := d.opts(snap)
	opts.InPlace = true
	t0 := time.Now()
	rep := mustRestore(t, d.repo, opts)
	el := time.Since(t0)
	n, by := d.cnt.reset()
	t.Logf("restore: %d objects in %d collections in %v, %d requests", rep.Written, rep.Containers, el, n)
	// Per collection: principal, home-set, home listing, MKCALENDAR; then
	// one PUT per object. Nothing is listed in a collection just created.
	if want := 4*len(before) + before.count(); n != want {
		t.Errorf("%d requests, want %d", n, want)
	}
	if rep.Items != before.count() || rep.Written != before.count() || rep.Containers != len(before) {
		t.Errorf("report %+v, want %d items written in %d containers", rep, before.count(), len(before))
	}
	if puts := countMethod(by, http.MethodPut); puts != before.count() {
		t.Errorf("%d PUTs for %d objects", puts, before.count())
	}
	if mk := countMethod(by, "MKCALENDAR"); mk != len(before) {
		t.Errorf("%d MKCALENDARs for %d collections", mk, len(before))
	}
	after := d.account(alice)
	if after.count() != before.count() {
		t.Errorf("%d objects after restore, %d before", after.count(), before.count())
	}
	assertHolds(t, after, before, nil)
	for cal, want := range map[string]string{caldavdemo.DemoTodos: "VTODO", caldavdemo.DemoWork: "VEVENT", "events-bulk": "VEVENT"} {
		if info, _ := d.srv.Calendar(alice, cal); strings.Join(info.Components, ",") != want {
			t.Errorf("%s recreated with components %v, want %s", cal, info.Components, want)
		}
	}
	// Display name and colour come back from the backup's saved state.
	if info, _ := d.srv.Calendar(alice, caldavdemo.DemoWork); info.DisplayName != "Работа и встречи" || info.Color != "#ff7b00" {
		t.Errorf("%s recreated as %q %q, want its backed-up name and colour", caldavdemo.DemoWork, info.DisplayName, info.Color)
	}

	// Rerun: discovery and one listing per collection, no PUT, no UID
	// lookups (every name is there).
	rep = mustRestore(t, d.repo, opts)
	n, by = d.cnt.reset()
	if rep.Written != 0 || n != 4*len(before) || countMethod(by, http.MethodPut) != 0 || countMethod(by, "MKCALENDAR") != 0 {
		t.Errorf("rerun wrote %d with %d requests (%v)", rep.Written, n, by)
	}
}

// Backup and restore throughput of the same corpus on the demo server
// (our side's cost: the demo answers in microseconds).
func TestRestoreDemoThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	for _, workers := range []int{1, 4} {
		d := newDemoRestore(t, func(c *calendar.Config) { c.RestoreWorkers = workers })
		seedAlice(t, d.srv, 2000)
		total := d.account(alice).count()
		t0 := time.Now()
		snap := d.backup(t, alice)
		bt := time.Since(t0)
		d.wipe(t, alice)
		opts := d.opts(snap)
		opts.InPlace = true
		t0 = time.Now()
		rep := mustRestore(t, d.repo, opts)
		rt := time.Since(t0)
		t.Logf("workers %d: backup %d objects in %v (%.0f/s), restore in %v (%.0f/s)", workers, total,
			bt.Round(time.Millisecond), float64(total)/bt.Seconds(), rt.Round(time.Millisecond), float64(rep.Written)/rt.Seconds())
		if rep.Written != total || d.account(alice).count() != total {
			t.Errorf("wrote %d, %d objects, want %d", rep.Written, d.account(alice).count(), total)
		}
	}
}

// --to-user and the non-destructive "Restored …" collection.
func TestRestoreDemoToUserAndNewCollection(t *testing.T) {
	d := newDemoRestore(t)
	seedAlice(t, d.srv, 10)
	d.srv.AddUser(bob)
	bobsOwn := caldavdemo.BulkEvent(77777, time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	if _, err := d.srv.PutObject(bob, caldavdemo.DemoDefault, "bobs-own.ics", []byte(bobsOwn)); err != nil {
		t.Fatal(err)
	}
	before := d.account(alice)
	bobBefore := d.account(bob)
	snap := d.backup(t, alice)

	// Into bob's account, in place: alice's collections appear in bob's
	// home, bob's own event stays.
	opts := d.opts(snap)
	opts.InPlace = true
	opts.ToUser = &sources.User{ID: "uid-" + bob, Email: bob, Enabled: true}
	rep := mustRestore(t, d.repo, opts)
	if rep.Written != before.count() {
		t.Errorf("to-user wrote %d of %d", rep.Written, before.count())
	}
	bobAfter := d.account(bob)
	assertHolds(t, bobAfter, before, nil)
	assertHolds(t, bobAfter, bobBefore, nil)
	if got, want := bobAfter.count(), before.count()+bobBefore.count(); got != want {
		t.Errorf("bob has %d objects, want %d", got, want)
	}
	if !bytes.Equal(d.account(alice)[caldavdemo.DemoWork]["2f9a0c.ics"], before[caldavdemo.DemoWork]["2f9a0c.ics"]) {
		t.Error("restoring into bob changed alice")
	}

	// Non-destructive, alice's originals still there: one new collection
	// per original, named after the snapshot and the original's display name.
	opts = d.opts(snap)
	rep = mustRestore(t, d.repo, opts)
	under := engine.RestoreFolderName(snap)
	if rep.Target != under || rep.Written != before.count() {
		t.Errorf("report %+v", rep)
	}
	after := d.account(alice)
	restored := map[string]string{} // original → new collection
	for cal := range after {
		if _, orig := before[cal]; !orig {
			restored[cal] = ""
		}
	}
	if len(restored) != len(before) {
		t.Fatalf("%d new collections for %d originals: %v", len(restored), len(before), d.srv.Calendars(alice))
	}
	for cal := range before {
		origInfo, _ := d.srv.Calendar(alice, cal)
		var found string
		for nc := range restored {
			info, _ := d.srv.Calendar(alice, nc)
			if info.DisplayName == under+" — "+origInfo.DisplayName {
				found = nc
				if strings.Join(info.Components, ",") != strings.Join(origInfo.Components, ",") {
					t.Errorf("%s: components %v, original %v", nc, info.Components, origInfo.Components)
				}
				if info.Color != origInfo.Color {
					t.Errorf("%s: color %q, original %q", nc, info.Color, origInfo.Color)
				}
			}
		}
		if found == "" {
			t.Errorf("no collection named %q", under+" — "+origInfo.DisplayName)
			continue
		}
		if !strings.HasPrefix(found, "restored-") {
			t.Errorf("new collection path %q", found)
		}
		restored[cal] = found
	}
	assertHolds(t, after, before, func(cal string) string { return restored[cal] })
	assertHolds(t, after, before, nil) // originals untouched

	// Rerun continues in the same collections and writes nothing.
	d.cnt.reset()
	rep = mustRestore(t, d.repo, opts)
	_, by := d.cnt.reset()
	if rep.Written != 0 || countMethod(by, http.MethodPut) != 0 || len(d.srv.Calendars(alice)) != 2*len(before) {
		t.Errorf("rerun wrote %d, %v, calendars %v", rep.Written, by, d.srv.Calendars(alice))
	}
}

// An event deleted between two runs is restorable from the first snapshot only.
func TestRestoreDemoPointInTime(t *testing.T) {
	d := newDemoRestore(t)
	seedAlice(t, d.srv, 20)
	const gone = "bulk-5.ics"
	goneBytes, _ := d.srv.Object(alice, "events-bulk", gone)
	first := d.backup(t, alice)
	if err := d.srv.DeleteObject(alice, "events-bulk", gone); err != nil {
		t.Fatal(err)
	}
	second := d.backup(t, alice)

	for _, tc := range []struct {
		name  string
		snap  *engine.Snapshot
		wrote int
	}{
		{"latest snapshot does not have it", second, 0},
		{"first snapshot has it", first, 1},
	} {
		opts := d.opts(tc.snap)
		opts.InPlace = true
		opts.Selection = engine.Selection{Containers: []string{"events-bulk"}}
		rep := mustRestore(t, d.repo, opts)
		got, ok := d.srv.Object(alice, "events-bulk", gone)
		if rep.Written != tc.wrote || ok != (tc.wrote == 1) {
			t.Errorf("%s: wrote %d, object present %v", tc.name, rep.Written, ok)
		}
		if ok && !bytes.Equal(got, goneBytes) {
			t.Errorf("%s: restored bytes differ", tc.name)
		}
	}
}

// Each collision policy against a changed account: one object edited in
// place, one moved to another name (same UID), one deleted, the rest as
// backed up.
func TestRestoreDemoPolicies(t *testing.T) {
	const (
		edited = "2f9a0c.ics"                    // DemoWork
		moved  = "b6f4d1c0a7e24d52yandex.ru.ics" // DemoDefault → moved.ics
		gone   = "task-1.ics"                    // DemoTodos
	)
	tests := []struct {
		policy string
		// wrote is the number of objects written; puts the PUT lines.
		wrote int
		check func(t *testing.T, d *demoRestore, before, after account, puts []string)
	}{
		{sources.PolicySkip, 1, func(t *testing.T, d *demoRestore, before, after account, puts []string) {
			if !strings.Contains(string(after[caldavdemo.DemoWork][edited]), "SUMMARY:Edited") {
				t.Error("skip overwrote the edited object")
			}
			if _, ok := after[caldavdemo.DemoDefault][moved]; ok || !strings.Contains(string(after[caldavdemo.DemoDefault]["moved.ics"]), "SUMMARY:Edited") {
				t.Error("skip restored or overwrote an event whose UID is in the collection under another name")
			}
			if !bytes.Equal(after[caldavdemo.DemoTodos][gone], before[caldavdemo.DemoTodos][gone]) {
				t.Error("skip did not restore the deleted object")
			}
			if len(puts) != 1 || !strings.Contains(puts[0], "If-None-Match=* If-Match=") {
				t.Errorf("PUTs %v, want one with If-None-Match: *", puts)
			}
		}},
		{sources.PolicyReplace, 3, func(t *testing.T, d *demoRestore, before, after account, puts []string) {
			// The moved event is overwritten where it now is.
			want := account{}
			for cal, objs := range before {
				want[cal] = map[string][]byte{}
				for name, b := range objs {
					if name == moved {
						name = "moved.ics"
					}
					want[cal][name] = b
				}
			}
			assertHolds(t, after, want, nil)
			if _, ok := after[caldavdemo.DemoDefault][moved]; ok {
				t.Error("replace wrote a second object with the moved event's UID")
			}
			ifMatch := 0
			for _, p := range puts {
				if !strings.HasSuffix(p, "If-Match=") {
					ifMatch++
				}
			}
			if len(puts) != 3 || ifMatch != 2 {
				t.Errorf("PUTs %v: want 3, the 2 overwrites with If-Match", puts)
			}
		}},
		{sources.PolicyCopy, 5, func(t *testing.T, d *demoRestore, before, after account, puts []string) {
			work := after[caldavdemo.DemoWork]
			if !strings.Contains(string(work[edited]), "SUMMARY:Edited") {
				t.Error("copy overwrote the edited object")
			}
			cp := work["2f9a0c-restored-1.ics"]
			if !sameExceptUID(before[caldavdemo.DemoWork][edited], cp) {
				t.Errorf("copy of the edited object is not the backup with a new UID:\n%s", cp)
			}
			// The moved event's name is free but its UID is not.
			if cp := after[caldavdemo.DemoDefault][moved]; !sameExceptUID(before[caldavdemo.DemoDefault][moved], cp) {
				t.Errorf("copy under the free name kept a taken UID or changed other bytes:\n%s", cp)
			}
			// The recurring event: master and override get the same new UID.
			rec := string(after[caldavdemo.DemoDefault]["1716201145402-restored-1.ics"])
			if n := strings.Count(rec, "UID:"+uidOf([]byte(rec))+"\r\n"); n != 2 || uidOf([]byte(rec)) == "Rp8kvzXByandex.ru" {
				t.Errorf("recurring copy has %d lines with its new UID:\n%s", n, rec)
			}
			// Deleted: restored with its own name and UID.
			if !bytes.Equal(after[caldavdemo.DemoTodos][gone], before[caldavdemo.DemoTodos][gone]) {
				t.Error("copy did not restore the deleted object as it was")
			}
			// Every UID is once per collection.
			for cal, objs := range after {
				seen := map[string]string{}
				for name, b := range objs {
					if other, dup := seen[uidOf(b)]; dup {
						t.Errorf("%s: %s and %s share UID %s", cal, name, other, uidOf(b))
					}
					seen[uidOf(b)] = name
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			d := newDemoRestore(t)
			seedAlice(t, d.srv, 0)
			before := d.account(alice)
			snap := d.backup(t, alice)

			edit := strings.Replace(string(before[caldavdemo.DemoWork][edited]), "SUMMARY:", "SUMMARY:Edited ", 1)
			mustPut(t, d.demoEnv, alice, caldavdemo.DemoWork, edited, edit)
			mustPut(t, d.demoEnv, alice, caldavdemo.DemoDefault, "moved.ics",
				strings.Replace(string(before[caldavdemo.DemoDefault][moved]), "SUMMARY:", "SUMMARY:Edited ", 1))
			if err := d.srv.DeleteObject(alice, caldavdemo.DemoDefault, moved); err != nil {
				t.Fatal(err)
			}
			if err := d.srv.DeleteObject(alice, caldavdemo.DemoTodos, gone); err != nil {
				t.Fatal(err)
			}
			objects := d.account(alice).count()

			var pl putLog
			d.setHook(pl.hook)
			opts := d.opts(snap)
			opts.InPlace = true
			opts.Policy = tc.policy
			rep := mustRestore(t, d.repo, opts)
			after := d.account(alice)
			if rep.Written != tc.wrote {
				t.Errorf("wrote %d, want %d", rep.Written, tc.wrote)
			}
			if got, want := after.count(), objects+map[bool]int{true: tc.wrote, false: 1}[tc.policy == sources.PolicyCopy]; got != want {
				t.Errorf("%d objects after, want %d", got, want)
			}
			tc.check(t, d, before, after, pl.take())
		})
	}
}

// replace never clobbers a change made between its listing and its PUT.
func TestRestoreDemoReplaceRace(t *testing.T) {
	d := newDemoRestore(t)
	seedAlice(t, d.srv, 0)
	const edited = "2f9a0c.ics"
	orig, _ := d.srv.Object(alice, caldavdemo.DemoWork, edited)
	snap := d.backup(t, alice)
	mustPut(t, d.demoEnv, alice, caldavdemo.DemoWork, edited, strings.Replace(string(orig), "SUMMARY:", "SUMMARY:First edit ", 1))
	racing := strings.Replace(string(orig), "SUMMARY:", "SUMMARY:Racing edit ", 1)
	var once sync.Once
	d.setHook(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+edited) {
			once.Do(func() { mustPut(t, d.demoEnv, alice, caldavdemo.DemoWork, edited, racing) })
		}
		return nil, nil
	})
	opts := d.opts(snap)
	opts.InPlace = true
	opts.Policy = sources.PolicyReplace
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(strings.Join(rep.Failures, " "), edited) || !strings.Contains(strings.Join(rep.Failures, " "), "412") {
		t.Errorf("report %+v: want the one failure naming %s and 412", rep, edited)
	}
	if got, _ := d.srv.Object(alice, caldavdemo.DemoWork, edited); !strings.Contains(string(got), "Racing edit") {
		t.Error("the racing edit was overwritten")
	}
}

// A restore cut off after N PUTs and run again writes every object once.
func TestRestoreDemoInterruptedRerun(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			d := newDemoRestore(t, func(c *calendar.Config) { c.RestoreWorkers = workers })
			seedAlice(t, d.srv, 150)
			before := d.account(alice)
			snap := d.backup(t, alice)
			d.wipe(t, alice)
			created := &creations{n: map[string]int{}}
			d.setRewrite(created.rewrite)

			const cutAfter = 70
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			puts := 0
			d.setHook(func(r *http.Request) (*http.Response, error) {
				if r.Method != http.MethodPut {
					return nil, nil
				}
				mu.Lock()
				defer mu.Unlock()
				if puts == cutAfter {
					cancel()
					return nil, context.Canceled
				}
				puts++
				return nil, nil
			})
			opts := d.opts(snap)
			opts.InPlace = true
			if _, err := d.repo.Restore(ctx, opts); !errors.Is(err, context.Canceled) {
				t.Fatalf("cut-off restore: err %v, want context.Canceled", err)
			}
			mid := d.account(alice).count()
			if mid > cutAfter {
				t.Errorf("%d objects after a cut at %d PUTs", mid, cutAfter)
			}
			d.setHook(nil)
			d.cnt.reset()
			rep := mustRestore(t, d.repo, opts)
			_, by := d.cnt.reset()
			t.Logf("cut after %d PUTs: %d objects there; rerun wrote %d with %d PUTs", cutAfter, mid, rep.Written, countMethod(by, http.MethodPut))
			// A PUT cancelled in flight may still land after the cut-off run
			// returned (the server finishes what it received), so the rerun
			// may find one more than mid; it never writes one twice.
			if rep.Written > before.count()-mid || rep.Written < before.count()-mid-workers {
				t.Errorf("rerun wrote %d, want %d (up to %d fewer)", rep.Written, before.count()-mid, workers)
			}
			for name, n := range created.byName() {
				if n != 1 {
					t.Errorf("%s created %d times", name, n)
				}
			}
			after := d.account(alice)
			if after.count() != before.count() || created.total() != before.count() {
				t.Errorf("%d objects, %d created, want %d (duplicates or losses)", after.count(), created.total(), before.count())
			}
			assertHolds(t, after, before, nil)
		})
	}
}

// creations counts, server side, the PUTs that created or replaced an object.
type creations struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *creations) rewrite(r *http.Request, status int, body []byte) (int, []byte) {
	if r.Method == http.MethodPut && status/100 == 2 {
		c.mu.Lock()
		c.n[r.URL.Path]++
		c.mu.Unlock()
	}
	return status, body
}

func (c *creations) byName() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

func (c *creations) total() int {
	n := 0
	for _, v := range c.byName() {
		n += v
	}
	return n
}

// A token refused mid-restore is re-minted once; refused twice, the
// container fails and the report says so.
func TestRestoreDemoUnauthorized(t *testing.T) {
	d := newDemoRestore(t)
	seedAlice(t, d.srv, 5)
	snap := d.backup(t, alice)
	d.wipe(t, alice)
	d.allow("old", alice)
	d.allow("new", alice)
	mints := 0
	toks := &sourcetest.StaticTokens{Tok: "old", Next: func() string { mints++; return "new" }}
	var once sync.Once
	d.setHook(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut {
			once.Do(func() { d.revoke("old") })
		}
		return nil, nil
	})
	opts := d.opts(snap)
	opts.InPlace = true
	opts.Tokens = func(sources.User) sources.TokenSource { return toks }
	opts.Selection = engine.Selection{Containers: []string{"events-bulk"}}
	rep := mustRestore(t, d.repo, opts)
	// Concurrent PUTs may each see the 401 and invalidate "old"; only the
	// first invalidation re-mints.
	if toks.Invalidated < 1 || mints != 1 || rep.Written != 5 {
		t.Errorf("invalidated %d, re-minted %d, wrote %d", toks.Invalidated, mints, rep.Written)
	}

	d.revoke("new")
	toks.Next = func() string { return "new" }
	opts.Selection = engine.Selection{}
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Written != 0 || rep.Failed == 0 || !strings.Contains(strings.Join(rep.Failures, "\n"), "401") {
		t.Errorf("report %+v: want container failures naming 401", rep)
	}
}

// One object the server refuses is reported by name; the others are
// written, and a rerun writes just that one.
func TestRestoreDemoPerObjectFailure(t *testing.T) {
	d := newDemoRestore(t)
	seedAlice(t, d.srv, 10)
	snap := d.backup(t, alice)
	d.wipe(t, alice)
	const bad = "bulk-4.ics"
	d.setHook(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+bad) {
			return &http.Response{StatusCode: http.StatusInsufficientStorage, Status: "507 Insufficient Storage",
				Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		}
		return nil, nil
	})
	opts := d.opts(snap)
	opts.InPlace = true
	rep, err := d.repo.Restore(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || !strings.Contains(rep.Failures[0], bad) || !strings.Contains(rep.Failures[0], "507") || rep.Written != rep.Items-1 {
		t.Errorf("report %+v: want one failure naming %s, the rest written", rep, bad)
	}
	d.setHook(nil)
	if rep := mustRestore(t, d.repo, opts); rep.Written != 1 {
		t.Errorf("rerun wrote %d, want 1", rep.Written)
	}
	if _, ok := d.srv.Object(alice, "events-bulk", bad); !ok {
		t.Errorf("%s not restored by the rerun", bad)
	}
}

// A policy the source does not know is refused before anything is written.
func TestRestoreUnknownPolicy(t *testing.T) {
	d := newDemoRestore(t)
	n, err := d.src.RestoreContainer(context.Background(), user(alice), tokensFor(alice),
		sources.RestoreTarget{Original: "events-default", Policy: "merge"}, nil, func(string, error) {})
	if n != 0 || err == nil || !strings.Contains(err.Error(), `"merge"`) {
		t.Errorf("n %d err %v", n, err)
	}
	if n, by := d.cnt.reset(); n != 0 {
		t.Errorf("made requests: %v", by)
	}
}
