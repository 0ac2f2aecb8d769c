package daemon_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon"
)

func TestScheduleFiresWhenDue(t *testing.T) {
	moscow, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	r := newRunner()
	plan := &daemon.Plan{
		Jobs: []daemon.Job{
			mustJob(t, "mail", "0 * * * *"),
			mustJob(t, "disk", "0 3 * * *"),                         // 03:00 Moscow = 00:00 UTC
			mustJob(t, "calendar", "CRON_TZ=Asia/Tokyo 0 12 * * *"), // 12:00 Tokyo = 03:00 UTC
		},
		Location: moscow,
		Run:      r.run,
	}
	h := start(t, plan, daemon.Options{})
	next := h.d.Status().Next
	want := map[string]time.Time{
		"mail":     time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC),
		"disk":     time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC),
		"calendar": time.Date(2026, 1, 6, 3, 0, 0, 0, time.UTC),
	}
	for job, w := range want {
		if !next[job].Equal(w) {
			t.Errorf("next %s = %s, want %s", job, next[job].UTC(), w)
		}
	}

	h.clk.Advance(29*time.Minute + 59*time.Second)
	h.idle()
	if s := r.started(); len(s) != 0 {
		t.Fatalf("ran before due: %v", s)
	}
	h.clk.Advance(time.Second)
	waitFor(t, "mail run finished", func() bool { _, ok := h.d.Status().Last["mail"]; return ok })
	h.idle()
	if s := r.started(); !slices.Equal(s, []string{"mail"}) {
		t.Fatalf("starts = %v, want [mail]", s)
	}
	if got := h.d.Status().Next["mail"]; !got.Equal(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("next mail after the run = %s", got.UTC())
	}
	// Jump to the next morning: mail once (missed hours are not replayed),
	// disk and calendar; they share no source, so they start together in
	// any order.
	h.clk.Set(time.Date(2026, 1, 6, 3, 0, 0, 0, time.UTC))
	waitFor(t, "three more runs", func() bool { return len(r.started()) == 4 })
	if s := r.started(); !slices.Equal(slices.Sorted(slices.Values(s[1:])), []string{"calendar", "disk", "mail"}) {
		t.Errorf("starts = %v, want mail, then mail, disk and calendar", s)
	}
	if err := h.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

func TestJitterDelaysStart(t *testing.T) {
	r := newRunner()
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "@hourly")}, Location: time.UTC, Jitter: 5 * time.Minute, Run: r.run}
	var asked atomic.Int64
	h := start(t, plan, daemon.Options{Jitter: func(max time.Duration) time.Duration {
		asked.Store(int64(max))
		return 90 * time.Second
	}})
	if got := h.d.Status().Next["mail"]; !got.Equal(time.Date(2026, 1, 5, 11, 1, 30, 0, time.UTC)) {
		t.Errorf("next = %s, want 11:01:30", got.UTC())
	}
	if time.Duration(asked.Load()) != 5*time.Minute {
		t.Errorf("jitter asked for max %s", time.Duration(asked.Load()))
	}
	h.clk.Advance(31 * time.Minute)
	h.idle()
	if len(r.started()) != 0 {
		t.Fatal("started before the jittered time")
	}
	h.clk.Advance(30 * time.Second)
	waitFor(t, "jittered run", func() bool { return len(r.started()) == 1 })
}

func TestReloadRejectsBrokenConfig(t *testing.T) {
	r := newRunner()
	var next *daemon.Plan
	var nextErr error
	var reloads []error
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "0 * * * *")}, Location: time.UTC, Run: r.run}
	h := start(t, plan, daemon.Options{
		Reload:   func() (*daemon.Plan, error) { return next, nextErr },
		OnReload: func(err error) { reloads = append(reloads, err) },
	})
	nextErr = errors.New("config c.yaml: 1 problem(s):\n  - line 3: schedule.mail: bad")
	if err := h.d.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "schedule.mail") {
		t.Fatalf("reload of a broken config: %v", err)
	}
	// The old schedule still fires.
	h.clk.Set(t0.Add(30 * time.Minute))
	waitFor(t, "old schedule fired", func() bool { return len(r.started()) == 1 })

	nextErr = nil
	next = &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "30 * * * *"), mustJob(t, "disk", "0 2 * * *")}, Location: time.UTC, Run: r.run}
	if err := h.d.Reload(context.Background()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	s := h.d.Status()
	if !s.Next["mail"].Equal(t0.Add(time.Hour)) || !s.Next["disk"].Equal(time.Date(2026, 1, 6, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("after reload next = %v", s.Next)
	}
	if len(reloads) != 2 || reloads[0] == nil || reloads[1] != nil {
		t.Errorf("OnReload saw %v", reloads)
	}
	// A plan without RunFunc is rejected too.
	next = &daemon.Plan{}
	if err := h.d.Reload(context.Background()); err == nil {
		t.Error("a plan without RunFunc was accepted")
	}
	if s := h.d.Status(); len(s.Next) != 2 {
		t.Errorf("rejected plan changed the schedule: %v", s.Next)
	}
}

func TestHealth(t *testing.T) {
	r := newRunner()
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "@hourly")}, Location: time.UTC, Run: r.run}
	h := start(t, plan, daemon.Options{Heartbeat: 10 * time.Second})
	if err := h.d.Health(); err != nil {
		t.Fatalf("fresh daemon unhealthy: %v", err)
	}
	r.mu.Lock()
	r.fail = errors.New("list users: 403 Not an admin")
	r.mu.Unlock()
	h.clk.Set(t0.Add(30 * time.Minute))
	waitFor(t, "failed run", func() bool { _, ok := h.d.Status().Last["mail"]; return ok })
	if err := h.d.Health(); err == nil || !strings.Contains(err.Error(), "Not an admin") {
		t.Errorf("health after an outright failure: %v", err)
	}
	r.mu.Lock()
	r.fail = nil
	r.mu.Unlock()
	h.clk.Set(t0.Add(90 * time.Minute))
	waitFor(t, "good run", func() bool { return h.d.Status().Last["mail"].Err == nil })
	if err := h.d.Health(); err != nil {
		t.Errorf("health after a good run: %v", err)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Health(); err == nil {
		t.Error("a stopped daemon reports healthy")
	}
}

func TestHeartbeatWhileIdle(t *testing.T) {
	var beats atomic.Int32
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "@daily")}, Location: time.UTC, Run: newRunner().run}
	h := start(t, plan, daemon.Options{Heartbeat: 10 * time.Second, OnHeartbeat: func(time.Time) { beats.Add(1) }})
	before := beats.Load()
	for i := 0; i < 3; i++ {
		h.clk.Advance(10 * time.Second)
		h.idle()
	}
	if got := beats.Load() - before; got != 3 {
		t.Errorf("%d heartbeats in 30 s at 10 s, want 3", got)
	}
}

func TestNewRejectsBadPlans(t *testing.T) {
	if _, err := daemon.NewJob("mail", "every hour", nil); err == nil {
		t.Error("bad spec accepted")
	}
	j := mustJob(t, "mail", "@daily")
	for name, p := range map[string]*daemon.Plan{
		"nil":       nil,
		"no run":    {Jobs: []daemon.Job{j}},
		"duplicate": {Jobs: []daemon.Job{j, j}, Run: newRunner().run},
		"raw job":   {Jobs: []daemon.Job{{Name: "x", Spec: "@daily"}}, Run: newRunner().run},
	} {
		if _, err := daemon.New(p, daemon.Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPanicInRunIsAFailure(t *testing.T) {
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "@hourly")}, Location: time.UTC, RunOnStart: true,
		Run: func(context.Context, daemon.Job) (*backup.Snapshot, error) { panic("boom") }}
	h := start(t, plan, daemon.Options{})
	waitFor(t, "run ended", func() bool { _, ok := h.d.Status().Last["mail"]; return ok })
	if res := h.d.Status().Last["mail"]; res.Status() != daemon.StatusError || !strings.Contains(res.Err.Error(), "boom") {
		t.Errorf("result %q %v", res.Status(), res.Err)
	}
}
