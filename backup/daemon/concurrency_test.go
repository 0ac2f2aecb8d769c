package daemon_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon"
)

// clockAt is hh:mm on t0's day.
func clockAt(t *testing.T, hhmm string) time.Time {
	t.Helper()
	hm, err := time.Parse("15:04", hhmm)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(t0.Year(), t0.Month(), t0.Day(), hm.Hour(), hm.Minute(), 0, 0, time.UTC)
}

// step is one move of a scheduling test and the state expected after it.
type step struct {
	at      string   // "hh:mm": move the clock there, or
	finish  string   // let one blocked run of this job return
	running []string // Status.RunningJobs afterwards, in start order
	queued  []string // Status.Queued afterwards
	starts  []string // every start so far
	skips   int32    // starts skipped so far
}

// do performs st's move.
func (h *harness) do(t *testing.T, r *runner, st step) {
	t.Helper()
	if st.at != "" {
		h.clk.Set(clockAt(t, st.at))
		h.idle() // the tick is handled: an unchanged state below means something
		return
	}
	r.finish(t, st.finish)
}

// expect waits until the loop's state is st's, then until it sleeps again.
func (h *harness) expect(t *testing.T, r *runner, what string, st step) {
	t.Helper()
	var got string
	want := fmt.Sprintf("running %q (%q) queued %q starts %q skips %d",
		st.running, strings.Join(st.running, ", "), st.queued, st.starts, st.skips)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := h.d.Status()
		got = fmt.Sprintf("running %q (%q) queued %q starts %q skips %d",
			s.RunningJobs, s.Running, s.Queued, r.started(), h.skips.Load())
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
		}
		time.Sleep(time.Millisecond)
	}
	h.idle()
}

func TestJobsRunSideBySideUnlessTheyShareASource(t *testing.T) {
	type jobDef struct{ name, spec string } // sources: the name split at "+"
	for _, tt := range []struct {
		name   string
		jobs   []jobDef
		block  []string // runs of these jobs wait for the test
		steps  []step
		maxPar int
	}{{
		name:  "an hourly mail job runs during a long disk job",
		jobs:  []jobDef{{"disk", "35 10 * * *"}, {"mail", "0 * * * *"}},
		block: []string{"disk", "mail"},
		steps: []step{
			{at: "10:35", running: []string{"disk"}, starts: []string{"disk"}},
			{at: "11:00", running: []string{"disk", "mail"}, starts: []string{"disk", "mail"}},
			{finish: "mail", running: []string{"disk"}, starts: []string{"disk", "mail"}},
			{at: "12:00", running: []string{"disk", "mail"}, starts: []string{"disk", "mail", "mail"}},
			{finish: "mail", running: []string{"disk"}, starts: []string{"disk", "mail", "mail"}},
			{finish: "disk", starts: []string{"disk", "mail", "mail"}},
		},
		maxPar: 2,
	}, {
		name:  "a job sharing a source with the running one is queued once",
		jobs:  []jobDef{{"disk", "35 10 * * *"}, {"mail+disk", "0 * * * *"}},
		block: []string{"disk", "mail+disk"},
		steps: []step{
			{at: "10:35", running: []string{"disk"}, starts: []string{"disk"}},
			{at: "11:00", running: []string{"disk"}, queued: []string{"mail+disk"}, starts: []string{"disk"}},
			{at: "12:00", running: []string{"disk"}, queued: []string{"mail+disk"}, starts: []string{"disk"}, skips: 1},
			{finish: "disk", running: []string{"mail+disk"}, starts: []string{"disk", "mail+disk"}, skips: 1},
			{finish: "mail+disk", starts: []string{"disk", "mail+disk"}, skips: 1},
		},
		maxPar: 1,
	}, {
		// calendar shares nothing with the running disk job but waits for
		// calendar+disk, queued before it; mail shares nothing at all.
		name:  "a queued job keeps its turn against later jobs sharing a source",
		jobs:  []jobDef{{"disk", "35 10 * * *"}, {"calendar+disk", "40 10 * * *"}, {"calendar", "45 10 * * *"}, {"mail", "50 10 * * *"}},
		block: []string{"disk", "calendar+disk", "calendar", "mail"},
		steps: []step{
			{at: "10:35", running: []string{"disk"}, starts: []string{"disk"}},
			{at: "10:40", running: []string{"disk"}, queued: []string{"calendar+disk"}, starts: []string{"disk"}},
			{at: "10:45", running: []string{"disk"}, queued: []string{"calendar+disk", "calendar"}, starts: []string{"disk"}},
			{at: "10:50", running: []string{"disk", "mail"}, queued: []string{"calendar+disk", "calendar"}, starts: []string{"disk", "mail"}},
			{finish: "disk", running: []string{"mail", "calendar+disk"}, queued: []string{"calendar"}, starts: []string{"disk", "mail", "calendar+disk"}},
			{finish: "calendar+disk", running: []string{"mail", "calendar"}, starts: []string{"disk", "mail", "calendar+disk", "calendar"}},
			{finish: "mail", running: []string{"calendar"}, starts: []string{"disk", "mail", "calendar+disk", "calendar"}},
			{finish: "calendar", starts: []string{"disk", "mail", "calendar+disk", "calendar"}},
		},
		maxPar: 2,
	}, {
		name:  "a job due while it is itself running is skipped",
		jobs:  []jobDef{{"mail", "*/10 * * * *"}, {"disk", "5 * * * *"}},
		block: []string{"mail"},
		steps: []step{
			{at: "10:40", running: []string{"mail"}, starts: []string{"mail"}},
			{at: "10:50", running: []string{"mail"}, starts: []string{"mail"}, skips: 1},
			// 11:00 mail is skipped again; 11:05 disk runs beside it.
			{at: "11:05", running: []string{"mail"}, starts: []string{"mail", "disk"}, skips: 2},
			{finish: "mail", starts: []string{"mail", "disk"}, skips: 2},
		},
		maxPar: 2,
	}} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(tt.block...)
			plan := &daemon.Plan{Location: time.UTC, Run: r.run}
			for _, j := range tt.jobs {
				plan.Jobs = append(plan.Jobs, mustJob(t, j.name, j.spec))
			}
			h := start(t, plan, daemon.Options{})
			for i, st := range tt.steps {
				h.do(t, r, st)
				h.expect(t, r, fmt.Sprintf("step %d (at %q finish %q)", i, st.at, st.finish), st)
			}
			r.check(t, tt.maxPar)
		})
	}
}

func TestShutdownStopsEveryRun(t *testing.T) {
	for _, tt := range []struct {
		name    string
		jobs    []string // all start on start and block
		ignore  []string // these runs ignore cancellation ...
		letGo   []string // ... and of them, these return 10 s into the grace period
		wantErr bool     // Run returns ErrGraceExceeded
		want    map[string]string
	}{
		{name: "one job", jobs: []string{"mail"},
			want: map[string]string{"mail": daemon.StatusInterrupted}},
		{name: "two jobs", jobs: []string{"disk", "mail"},
			want: map[string]string{"disk": daemon.StatusInterrupted, "mail": daemon.StatusInterrupted}},
		{name: "a slow run is waited for", jobs: []string{"disk", "mail"}, ignore: []string{"disk"}, letGo: []string{"disk"},
			want: map[string]string{"disk": backup.StatusOK, "mail": daemon.StatusInterrupted}},
		// One grace period bounds the whole wait: mail returning at 10 s
		// does not give disk another 20 s.
		{name: "a stuck run exceeds the grace period", jobs: []string{"disk", "mail"}, ignore: []string{"disk", "mail"},
			letGo: []string{"mail"}, wantErr: true, want: map[string]string{"mail": backup.StatusOK}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(tt.jobs...)
			for _, j := range tt.ignore {
				r.ignore[j] = true
			}
			plan := &daemon.Plan{Location: time.UTC, RunOnStart: true, GracePeriod: 20 * time.Second, Run: r.run}
			for _, j := range tt.jobs {
				plan.Jobs = append(plan.Jobs, mustJob(t, j, "@hourly"))
			}
			h := start(t, plan, daemon.Options{})
			waitFor(t, "every job running", func() bool {
				return len(r.started()) == len(tt.jobs) && len(h.d.Status().RunningJobs) == len(tt.jobs)
			})
			h.cancel()
			if len(tt.ignore) > 0 {
				h.shutdownSlowly(t, r, len(tt.jobs), tt.ignore, tt.letGo)
			}
			select {
			case <-h.done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			if gotErr := errors.Is(h.err, daemon.ErrGraceExceeded); gotErr != tt.wantErr {
				t.Errorf("Run = %v, want ErrGraceExceeded: %v", h.err, tt.wantErr)
			}
			if tt.wantErr && !strings.HasSuffix(h.err.Error(), "still running: disk)") {
				t.Errorf("Run = %v, want it to name disk alone", h.err)
			}
			s := h.d.Status()
			got := map[string]string{}
			for job, res := range s.Last {
				got[job] = res.Status()
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("results %v, want %v", got, tt.want)
			}
			if wantRunning := len(tt.jobs) - len(tt.want); len(s.RunningJobs) != wantRunning || len(s.Queued) != 0 {
				t.Errorf("after Run: running %v queued %v; want %d running, none queued", s.RunningJobs, s.Queued, wantRunning)
			}
			r.check(t, len(tt.jobs))
		})
	}
}

// shutdownSlowly drives a shutdown whose runs named in ignore do not react
// to cancellation: Run must still be waiting 10 s into the grace period;
// then the letGo runs return; if others remain, Run must still be waiting
// at 19 s, and the clock is moved to the end of the grace period.
func (h *harness) shutdownSlowly(t *testing.T, r *runner, jobs int, ignore, letGo []string) {
	t.Helper()
	stillWaiting := func(when string) {
		t.Helper()
		select {
		case <-h.done:
			t.Fatalf("Run returned %s, inside the grace period: %v", when, h.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, j := range ignore {
		if !slices.Contains(letGo, j) {
			t.Cleanup(func() { r.unblock(j) }) // free the stuck goroutine after the test
		}
	}
	waitFor(t, "grace timer", func() bool { return h.clk.hasTimerAt(h.clk.Now().Add(20 * time.Second)) })
	waitFor(t, "the cancelled runs ended", func() bool { return len(h.d.Status().Last) == jobs-len(ignore) })
	h.clk.Advance(10 * time.Second)
	stillWaiting("10 s after the cancel")
	for _, j := range letGo {
		r.finish(t, j)
	}
	if len(letGo) == len(ignore) {
		return
	}
	waitFor(t, "the let-go runs ended", func() bool { return len(h.d.Status().Last) == jobs-len(ignore)+len(letGo) })
	h.clk.Advance(9 * time.Second)
	stillWaiting("19 s after the cancel")
	h.clk.Advance(time.Second)
}

// TestReloadWhileTwoJobsRun: the runs in progress finish under the old
// plan's RunFunc; the new plan's jobs wait for those sharing a source.
func TestReloadWhileTwoJobsRun(t *testing.T) {
	r := newRunner("disk", "mail")
	oldPlan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "disk", "35 10 * * *"), mustJob(t, "mail", "0 * * * *")},
		Location: time.UTC, Run: r.runAs("old/")}
	// mail moves into a job with calendar; disk's schedule changes.
	newPlan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "calendar+mail", "15 * * * *"), mustJob(t, "disk", "10 11 * * *")},
		Location: time.UTC, Run: r.runAs("new/")}
	h := start(t, oldPlan, daemon.Options{Reload: func() (*daemon.Plan, error) { return newPlan, nil }})
	for _, st := range []step{
		{at: "10:35", running: []string{"disk"}, starts: []string{"old/disk"}},
		{at: "11:00", running: []string{"disk", "mail"}, starts: []string{"old/disk", "old/mail"}},
	} {
		h.do(t, r, st)
		h.expect(t, r, "before reload at "+st.at, st)
	}

	if err := h.d.Reload(t.Context()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	s := h.d.Status()
	if !slices.Equal(s.RunningJobs, []string{"disk", "mail"}) {
		t.Errorf("reload changed the running jobs to %v", s.RunningJobs)
	}
	if len(s.Next) != 2 || !s.Next["disk"].Equal(clockAt(t, "11:10")) || !s.Next["calendar+mail"].Equal(clockAt(t, "11:15")) {
		t.Errorf("next after reload = %v", s.Next)
	}

	for _, st := range []step{
		// The new plan's disk job is due while the old one runs: skipped.
		{at: "11:10", running: []string{"disk", "mail"}, starts: []string{"old/disk", "old/mail"}, skips: 1},
		// calendar+mail shares mail with the old mail run: queued.
		{at: "11:15", running: []string{"disk", "mail"}, queued: []string{"calendar+mail"}, starts: []string{"old/disk", "old/mail"}, skips: 1},
		// Once the old mail run ends, calendar+mail runs (and ends) under the new plan.
		{finish: "mail", running: []string{"disk"}, starts: []string{"old/disk", "old/mail", "new/calendar+mail"}, skips: 1},
		{finish: "disk", starts: []string{"old/disk", "old/mail", "new/calendar+mail"}, skips: 1},
	} {
		h.do(t, r, st)
		h.expect(t, r, fmt.Sprintf("after reload (at %q finish %q)", st.at, st.finish), st)
	}
	waitFor(t, "calendar+mail result", func() bool { _, ok := h.d.Status().Last["calendar+mail"]; return ok })
	for job, wantID := range map[string]string{"disk": "old/disk", "mail": "old/mail", "calendar+mail": "new/calendar+mail"} {
		if res := h.d.Status().Last[job]; res.Snapshot == nil || res.Snapshot.ID != wantID {
			t.Errorf("last run of %s: snapshot %v err %v, want %s", job, res.Snapshot, res.Err, wantID)
		}
	}
	r.check(t, 2)
}
