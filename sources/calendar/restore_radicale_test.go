package calendar_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"github.com/y360backup/y360backup/internal/testpeer/radicalepeer"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/caldavdemo"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// davCol is a collection as Radicale lists it.
type davCol struct {
	Name, DisplayName string
	Comps             []string
}

type msXML struct {
	Responses []struct {
		Href     string `xml:"DAV: href"`
		Propstat []struct {
			Prop struct {
				DisplayName  string `xml:"DAV: displayname"`
				ResourceType struct {
					Calendar *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar"`
				} `xml:"DAV: resourcetype"`
				CompSet struct {
					Comps []struct {
						Name string `xml:"name,attr"`
					} `xml:"urn:ietf:params:xml:ns:caldav comp"`
				} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

func (r *radicale) propfind(p string) msXML {
	r.t.Helper()
	code, b := r.do("PROPFIND", p, map[string]string{"Depth": "1", "Content-Type": "application/xml"},
		[]byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:displayname/><D:resourcetype/><C:supported-calendar-component-set/></D:prop></D:propfind>`))
	if code == http.StatusNotFound {
		return msXML{}
	}
	if code != http.StatusMultiStatus {
		r.t.Fatalf("PROPFIND %s: %d %s", p, code, b)
	}
	var ms msXML
	if err := xml.Unmarshal(b, &ms); err != nil {
		r.t.Fatalf("PROPFIND %s: %v", p, err)
	}
	return ms
}

// collections lists the user's calendars.
func (r *radicale) collections() map[string]davCol {
	r.t.Helper()
	out := map[string]davCol{}
	for _, resp := range r.propfind(r.home()).Responses {
		p, _ := url.PathUnescape(resp.Href)
		name := strings.Trim(strings.TrimPrefix(p, r.home()), "/")
		c := davCol{Name: name}
		isCal := false
		for _, ps := range resp.Propstat {
			if ps.Prop.ResourceType.Calendar != nil {
				isCal = true
			}
			if ps.Prop.DisplayName != "" {
				c.DisplayName = ps.Prop.DisplayName
			}
			for _, comp := range ps.Prop.CompSet.Comps {
				c.Comps = append(c.Comps, comp.Name)
			}
		}
		if isCal && name != "" {
			out[name] = c
		}
	}
	return out
}

// account GETs every object of every calendar of the user.
func (r *radicale) account() account {
	r.t.Helper()
	a := account{}
	for cal := range r.collections() {
		a[cal] = map[string][]byte{}
		for _, resp := range r.propfind(r.home() + cal + "/").Responses {
			p, _ := url.PathUnescape(resp.Href)
			name := strings.Trim(strings.TrimPrefix(p, r.home()+cal+"/"), "/")
			if name != "" {
				a[cal][name] = r.get(cal, name)
			}
		}
	}
	return a
}

func (r *radicale) wipe() {
	r.t.Helper()
	for cal := range r.collections() {
		r.delete(r.home() + cal + "/")
	}
	if left := r.collections(); len(left) != 0 {
		r.t.Fatalf("collections left after wipe: %v", left)
	}
}

// only is a copy of the named calendars of a.
func (a account) only(cals ...string) account {
	out := account{}
	for _, c := range cals {
		out[c] = map[string][]byte{}
		for name, b := range a[c] {
			out[c][name] = b
		}
	}
	return out
}

// radicaleRig is the calendar source against Radicale with Basic auth and
// emulator-minted tokens, counting requests, plus a repository on sinks/fs.
type radicaleRig struct {
	t    *testing.T
	base string
	cnt  *counter
	cfg  calendar.Config
	src  *calendar.Source
	repo *engine.Repository
	mu   sync.Mutex
	toks map[string]*sourcetest.StaticTokens
}

func newRadicaleRig(t *testing.T, base string) *radicaleRig {
	cfg := calendar.NewConfig()
	cfg.URL = base
	cfg.Auth = calendar.AuthBasic
	if w, err := strconv.Atoi(os.Getenv("Y360_TEST_CALDAV_RESTORE_WORKERS")); err == nil {
		cfg.RestoreWorkers = w // for measuring only
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sc := fssink.NewConfig()
	sc.Path = t.TempDir()
	sink, err := fssink.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	cnt := newCounter()
	return &radicaleRig{t: t, base: base, cnt: cnt, cfg: cfg, src: calendar.New(cfg, &http.Client{Transport: cnt}),
		repo: newRepo(t, sink), toks: map[string]*sourcetest.StaticTokens{}}
}

func (g *radicaleRig) tokens(u sources.User) sources.TokenSource {
	g.mu.Lock()
	defer g.mu.Unlock()
	ts := g.toks[u.Email]
	if ts == nil {
		ts = &sourcetest.StaticTokens{Tok: radicalepeer.Token(g.t, g.base, u.Email)}
		ts.Next = func() string { return radicalepeer.Token(g.t, g.base, u.Email) }
		g.toks[u.Email] = ts
	}
	return ts
}

func (g *radicaleRig) client(email string) *radicale {
	return &radicale{t: g.t, base: g.base, email: email, tok: g.tokens(user(email)).(*sourcetest.StaticTokens).Tok, hc: &http.Client{Timeout: time.Minute}}
}

func (g *radicaleRig) opts(snap *engine.Snapshot, inPlace bool, to string, policy string, cals ...string) engine.RestoreOptions {
	o := restoreOpts(snap, g.src, g.tokens)
	o.InPlace, o.Policy = inPlace, policy
	if to != "" {
		u := user(to)
		o.ToUser = &u
	}
	o.Selection = engine.Selection{Containers: cals}
	return o
}

// restore runs a restore and returns its report with the PUTs it made.
func (g *radicaleRig) restore(opts engine.RestoreOptions) (*engine.RestoreReport, int, time.Duration) {
	g.t.Helper()
	g.cnt.reset()
	t0 := time.Now()
	rep := mustRestore(g.t, g.repo, opts)
	el := time.Since(t0)
	_, by := g.cnt.reset()
	return rep, countMethod(by, http.MethodPut), el
}

// radicaleRestoreBulk is the size of the big calendar the throughput is
// measured on.
const radicaleRestoreBulk = 400

// Round trips on a real CalDAV server: back up through the engine into a
// repository on disk, restore non-destructively, wipe the account, restore
// in place from the latest snapshot and then the one deleted event from the
// first, into another user, each collision policy, a cut-off restore rerun.
func TestRadicaleRestore(t *testing.T) {
	base := radicaleURL(t)
	run := time.Now().UnixNano() % 1e9
	email := func(role string) string { return fmt.Sprintf("rst-%s-%d@example.org", role, run) }
	g := newRadicaleRig(t, base)
	alice := email("a")
	a := g.client(alice)

	// Seed: a big calendar, the demo set (recurring event with a moved and
	// a cancelled occurrence, Telemost X- properties, Cyrillic names, todos),
	// 25 more events in the work calendar.
	a.putCollection(caldavdemo.DemoDefault, "Мои события", radicaleRestoreBulk)
	for _, c := range caldavdemo.DemoCalendars()[1:] {
		a.mkcalendar(c.Name, c.Info.DisplayName, c.Info.Color+"ff", c.Info.Components[0])
	}
	for _, o := range caldavdemo.DemoObjects() {
		a.put(o.Calendar, o.Name, o.ICS)
	}
	for i := 0; i < 25; i++ {
		a.put(caldavdemo.DemoWork, fmt.Sprintf("work-%d.ics", i), caldavdemo.BulkEvent(5000+i, time.Date(2026, 7, 1, 9+i%8, 0, 0, 0, time.UTC)))
	}
	before := a.account()
	cols := a.collections()
	total := before.count()
	if want := radicaleRestoreBulk + 5 + 25; total != want {
		t.Fatalf("seeded %d objects, want %d", total, want)
	}
	for _, o := range caldavdemo.DemoObjects() {
		if got := string(before[o.Calendar][o.Name]); got == o.ICS {
			t.Logf("Radicale kept %s/%s as PUT", o.Calendar, o.Name)
		}
	}

	// First backup (timed: the throughput to compare the restore with).
	g.cnt.reset()
	t0 := time.Now()
	snap1 := backupRun(t, g.repo, g.src, user(alice), g.tokens)
	backupDur := time.Since(t0)
	bn, _ := g.cnt.reset()
	t.Logf("backup: %d objects in %v (%.0f objects/s), %d requests", total, backupDur.Round(time.Millisecond), float64(total)/backupDur.Seconds(), bn)

	small := []string{caldavdemo.DemoWork, caldavdemo.DemoTodos}

	{ // Non-destructive, the originals still there.
		rep, puts, _ := g.restore(g.opts(snap1, false, "", "", small...))
		want := before.only(small...).count()
		if rep.Written != want || puts != want {
			t.Errorf("wrote %d with %d PUTs, want %d", rep.Written, puts, want)
		}
		under := engine.RestoreFolderName(snap1)
		now := a.collections()
		got := a.account()
		for _, cal := range small {
			var found *davCol
			for _, c := range now {
				if c.DisplayName == under+" — "+cols[cal].DisplayName {
					c := c
					found = &c
				}
			}
			if found == nil {
				t.Errorf("no collection named %q: %v", under+" — "+cols[cal].DisplayName, now)
				continue
			}
			if !strings.HasPrefix(found.Name, "restored-") || strings.Join(found.Comps, ",") != strings.Join(cols[cal].Comps, ",") {
				t.Errorf("%s restored as %+v (original %+v)", cal, *found, cols[cal])
			}
			assertHolds(t, account{found.Name: got[found.Name]}, account{cal: before[cal]}, func(string) string { return found.Name })
		}
		assertHolds(t, got, before, nil) // originals untouched
		if rep, puts, _ := g.restore(g.opts(snap1, false, "", "", small...)); rep.Written != 0 || puts != 0 {
			t.Errorf("rerun wrote %d with %d PUTs", rep.Written, puts)
		}
		for name := range now {
			if strings.HasPrefix(name, "restored-") {
				a.delete(a.home() + name + "/")
			}
		}
	}

	// An event deleted between two runs.
	const gone = "2f9a0c.ics"
	a.delete(a.home() + caldavdemo.DemoWork + "/" + gone)
	snap2 := backupRun(t, g.repo, g.src, user(alice), g.tokens)

	{ // Delete everything, restore in place.
		a.wipe()
		rep, puts, el := g.restore(g.opts(snap2, true, "", ""))
		t.Logf("restore in place: %d objects in %v (%.0f objects/s; backup took %v), %d PUTs",
			rep.Written, el.Round(time.Millisecond), float64(rep.Written)/el.Seconds(), backupDur.Round(time.Millisecond), puts)
		if rep.Written != total-1 || puts != total-1 {
			t.Errorf("wrote %d with %d PUTs, want %d", rep.Written, puts, total-1)
		}
		got := a.account()
		if _, ok := got[caldavdemo.DemoWork][gone]; ok {
			t.Errorf("%s restored from the snapshot taken after its deletion", gone)
		}
		want := before.only(caldavdemo.DemoDefault, caldavdemo.DemoWork, caldavdemo.DemoTodos)
		delete(want[caldavdemo.DemoWork], gone)
		assertHolds(t, got, want, nil)
		if got.count() != total-1 {
			t.Errorf("%d objects after restore, want %d", got.count(), total-1)
		}
		// Recreated with the components of what they hold (the original
		// set is not in the items' metadata; see NOTES.md).
		wantComps := map[string]string{caldavdemo.DemoDefault: "VEVENT", caldavdemo.DemoWork: "VEVENT", caldavdemo.DemoTodos: "VTODO"}
		for name, c := range a.collections() {
			if strings.Join(c.Comps, ",") != wantComps[name] {
				t.Errorf("%s recreated with components %v, want %s", name, c.Comps, wantComps[name])
			}
			t.Logf("%s recreated: display name %q, components %v (original %q, %v)", name, c.DisplayName, c.Comps, cols[name].DisplayName, cols[name].Comps)
		}
		if rep, puts, _ := g.restore(g.opts(snap2, true, "", "")); rep.Written != 0 || puts != 0 {
			t.Errorf("rerun wrote %d with %d PUTs", rep.Written, puts)
		}
		// The deleted event, from the first snapshot.
		rep, puts, _ = g.restore(g.opts(snap1, true, "", "", caldavdemo.DemoWork))
		if rep.Written != 1 || puts != 1 {
			t.Errorf("point-in-time restore wrote %d with %d PUTs, want 1", rep.Written, puts)
		}
		got = a.account()
		assertHolds(t, got, before, nil)
		if got.count() != total {
			t.Errorf("%d objects, want %d", got.count(), total)
		}
	}

	{ // Into another user.
		bob := email("b")
		rep, _, _ := g.restore(g.opts(snap1, true, bob, "", small...))
		want := before.only(small...)
		if rep.Written != want.count() {
			t.Errorf("wrote %d, want %d", rep.Written, want.count())
		}
		got := g.client(bob).account()
		assertHolds(t, got, want, nil)
		if got.count() != want.count() {
			t.Errorf("bob has %d objects, want %d", got.count(), want.count())
		}
	}

	for _, policy := range []string{sources.PolicySkip, sources.PolicyReplace, sources.PolicyCopy} {
		func() {
			c := g.client(email("p-" + policy))
			g.restore(g.opts(snap1, true, c.email, "", small...))
			// edited in place, moved to another name (same UID), deleted.
			const edited, moved, deleted = "2f9a0c.ics", "task-2.ics", "work-3.ics"
			orig := before.only(small...)
			c.put(caldavdemo.DemoWork, edited, strings.Replace(string(orig[caldavdemo.DemoWork][edited]), "SUMMARY:", "SUMMARY:Edited ", 1))
			c.delete(c.home() + caldavdemo.DemoTodos + "/" + moved)
			c.put(caldavdemo.DemoTodos, "moved.ics", strings.Replace(string(orig[caldavdemo.DemoTodos][moved]), "SUMMARY:", "SUMMARY:Edited ", 1))
			c.delete(c.home() + caldavdemo.DemoWork + "/" + deleted)
			objects := c.account().count()

			rep, puts, _ := g.restore(g.opts(snap1, true, c.email, policy, small...))
			got := c.account()
			work, todos := got[caldavdemo.DemoWork], got[caldavdemo.DemoTodos]
			t.Logf("%s: wrote %d with %d PUTs; %d objects before, %d after", policy, rep.Written, puts, objects, got.count())
			switch policy {
			case sources.PolicySkip:
				if rep.Written != 1 || got.count() != objects+1 {
					t.Errorf("wrote %d, %d objects (want 1, %d)", rep.Written, got.count(), objects+1)
				}
				if !strings.Contains(string(work[edited]), "SUMMARY:Edited") || !strings.Contains(string(todos["moved.ics"]), "SUMMARY:Edited") {
					t.Error("skip overwrote an edited object")
				}
				if _, ok := todos[moved]; ok {
					t.Error("skip restored an object whose UID is there under another name")
				}
				assertHolds(t, account{caldavdemo.DemoWork: work}, account{caldavdemo.DemoWork: {deleted: orig[caldavdemo.DemoWork][deleted]}}, nil)
			case sources.PolicyReplace:
				want := orig
				want[caldavdemo.DemoTodos] = map[string][]byte{"moved.ics": orig[caldavdemo.DemoTodos][moved], "task-1.ics": orig[caldavdemo.DemoTodos]["task-1.ics"]}
				assertHolds(t, got, want, nil)
				if got.count() != objects+1 {
					t.Errorf("%d objects, want %d", got.count(), objects+1)
				}
			case sources.PolicyCopy:
				if rep.Written != orig.count() || got.count() != objects+orig.count() {
					t.Errorf("wrote %d, %d objects (want %d, %d)", rep.Written, got.count(), orig.count(), objects+orig.count())
				}
				if !sameExceptUID(orig[caldavdemo.DemoWork][edited], work["2f9a0c-restored-1.ics"]) {
					t.Errorf("copy of the edited event:\n%s", work["2f9a0c-restored-1.ics"])
				}
				if !sameExceptUID(orig[caldavdemo.DemoTodos][moved], todos[moved]) {
					t.Errorf("copy under the moved todo's free name:\n%s", todos[moved])
				}
			}
			for cal, objs := range got {
				seen := map[string]bool{}
				for name, b := range objs {
					if seen[uidOf(b)] {
						t.Errorf("%s/%s: UID %s twice", cal, name, uidOf(b))
					}
					seen[uidOf(b)] = true
				}
			}
		}()
	}

	{ // Cut off after a few PUTs, then rerun.
		d := email("cut")
		want := before.only(small...)
		const cutAfter = 12
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var mu sync.Mutex
		puts := 0
		g.cnt.mu.Lock()
		g.cnt.hook = func(r *http.Request) (*http.Response, error) {
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
		}
		g.cnt.mu.Unlock()
		if _, err := g.repo.Restore(ctx, g.opts(snap1, true, d, "", small...)); !errors.Is(err, context.Canceled) {
			t.Fatalf("cut-off restore: %v", err)
		}
		g.cnt.mu.Lock()
		g.cnt.hook = nil
		g.cnt.mu.Unlock()
		dc := g.client(d)
		mid := dc.account().count()
		rep, rerunPuts, _ := g.restore(g.opts(snap1, true, d, "", small...))
		t.Logf("cut after %d PUTs: %d objects there; rerun wrote %d with %d PUTs", cutAfter, mid, rep.Written, rerunPuts)
		// A PUT cancelled in flight may land after the cut-off run returned;
		// the rerun then finds it (412) instead of writing it.
		if w := max(1, g.cfg.RestoreWorkers); rep.Written > want.count()-mid || rep.Written < want.count()-mid-(w-1) {
			t.Errorf("rerun wrote %d with %d PUTs, want %d (up to %d fewer)", rep.Written, rerunPuts, want.count()-mid, w-1)
		}
		got := dc.account()
		assertHolds(t, got, want, nil)
		if got.count() != want.count() {
			t.Errorf("%d objects, want %d", got.count(), want.count())
		}
	}
}
