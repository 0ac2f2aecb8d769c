package daemon_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/daemon"
)

var t0 = time.Date(2026, 1, 5, 10, 30, 0, 0, time.UTC)

// runner is a fake RunFunc. Runs of jobs named in block wait for a value on
// release (or for ctx); others return an "ok" snapshot at once.
type runner struct {
	mu      sync.Mutex
	starts  []string
	running atomic.Int32
	maxPar  atomic.Int32
	block   map[string]bool
	release chan struct{}
	ignore  bool // blocked runs ignore ctx (to test the grace period)
	fail    error
}

func newRunner(block ...string) *runner {
	r := &runner{block: map[string]bool{}, release: make(chan struct{})}
	for _, b := range block {
		r.block[b] = true
	}
	return r
}

func (r *runner) run(ctx context.Context, j daemon.Job) (*backup.Snapshot, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		m := r.maxPar.Load()
		if n <= m || r.maxPar.CompareAndSwap(m, n) {
			break
		}
	}
	r.mu.Lock()
	r.starts = append(r.starts, j.Name)
	blocked, fail := r.block[j.Name], r.fail
	r.mu.Unlock()
	if blocked {
		if r.ignore {
			<-r.release
		} else {
			select {
			case <-r.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	if fail != nil {
		return nil, fail
	}
	return &backup.Snapshot{ID: "snap-" + j.Name, Status: backup.StatusOK}, nil
}

func (r *runner) started() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts)
}

func mustJob(t *testing.T, name, spec string) daemon.Job {
	t.Helper()
	j, err := daemon.NewJob(name, spec, strings.Split(name, "+"))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// harness runs a Daemon on a fake clock.
type harness struct {
	t      *testing.T
	clk    *fakeClock
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with its error in err
	err    error
	skips  atomic.Int32
}

func start(t *testing.T, plan *daemon.Plan, opts daemon.Options) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(t0), done: make(chan struct{})}
	opts.Clock = h.clk
	if opts.Jitter == nil {
		opts.Jitter = func(time.Duration) time.Duration { return 0 }
	}
	opts.OnSkip = func(string) { h.skips.Add(1) }
	d, err := daemon.New(plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.err = d.Run(ctx); close(h.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
		}
	})
	h.idle()
	return h
}

// idle waits until the loop sleeps on its timer with the clock's current time seen.
func (h *harness) idle() {
	h.t.Helper()
	waitFor(h.t, "loop idle", func() bool {
		s := h.d.Status()
		return h.clk.waiting() == 1 && s.Started && !s.Heartbeat.Before(h.clk.Now())
	})
}

func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	select {
	case <-h.done:
		return h.err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}

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
	// Jump to the next morning: mail once (missed hours are not replayed), disk, calendar.
	h.clk.Set(time.Date(2026, 1, 6, 3, 0, 0, 0, time.UTC))
	waitFor(t, "three more runs", func() bool { return len(r.started()) == 4 })
	if s := r.started(); !slices.Equal(s[1:], []string{"mail", "disk", "calendar"}) {
		t.Errorf("starts = %v, want mail, then mail, disk, calendar", s)
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

func TestOverlappingRunsRefused(t *testing.T) {
	r := newRunner("mail")
	plan := &daemon.Plan{
		Jobs:     []daemon.Job{mustJob(t, "mail", "*/10 * * * *"), mustJob(t, "disk", "5 * * * *")},
		Location: time.UTC,
		Run:      r.run,
	}
	h := start(t, plan, daemon.Options{})
	h.clk.Set(t0.Add(10 * time.Minute)) // 10:40 mail starts and blocks
	waitFor(t, "mail running", func() bool { return h.d.Status().Running == "mail" })
	h.clk.Set(t0.Add(20 * time.Minute)) // 10:50 mail due again: skipped
	h.idle()
	if h.skips.Load() != 1 {
		t.Errorf("skips = %d, want 1", h.skips.Load())
	}
	h.clk.Set(t0.Add(35 * time.Minute)) // 11:05 disk due (and mail at 11:00: skipped again)
	h.idle()
	s := h.d.Status()
	if s.Running != "mail" || !slices.Equal(s.Queued, []string{"disk"}) {
		t.Errorf("running %q queued %v; want mail running and disk queued", s.Running, s.Queued)
	}
	if h.skips.Load() != 2 {
		t.Errorf("skips = %d, want 2", h.skips.Load())
	}
	r.release <- struct{}{}
	waitFor(t, "disk ran after mail", func() bool { _, ok := h.d.Status().Last["disk"]; return ok })
	if got := r.started(); !slices.Equal(got, []string{"mail", "disk"}) {
		t.Errorf("starts = %v", got)
	}
	if r.maxPar.Load() != 1 {
		t.Errorf("%d runs at once, want 1", r.maxPar.Load())
	}
}

func TestShutdownCancelsRun(t *testing.T) {
	r := newRunner("mail")
	ends := make(chan daemon.Result, 4)
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "@hourly")}, Location: time.UTC, RunOnStart: true, Run: r.run}
	h := start(t, plan, daemon.Options{OnRunEnd: func(res daemon.Result) { ends <- res }})
	waitFor(t, "mail running", func() bool { return h.d.Status().Running == "mail" })
	if err := h.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	res := <-ends
	if res.Status() != daemon.StatusInterrupted || res.FailedOutright() {
		t.Errorf("status %q (failed outright %v), want interrupted", res.Status(), res.FailedOutright())
	}
}

func TestShutdownGracePeriod(t *testing.T) {
	r := newRunner("mail")
	r.ignore = true // the run does not react to cancellation
	defer close(r.release)
	plan := &daemon.Plan{Jobs: []daemon.Job{mustJob(t, "mail", "@hourly")}, Location: time.UTC,
		RunOnStart: true, GracePeriod: 20 * time.Second, Run: r.run}
	h := start(t, plan, daemon.Options{})
	waitFor(t, "mail running", func() bool { return h.d.Status().Running == "mail" })
	h.cancel()
	waitFor(t, "grace timer", func() bool { return h.clk.hasTimerAt(h.clk.Now().Add(20 * time.Second)) })
	h.clk.Advance(19 * time.Second)
	select {
	case <-h.done:
		t.Fatalf("returned before the grace period: %v", h.err)
	case <-time.After(20 * time.Millisecond):
	}
	h.clk.Advance(time.Second)
	select {
	case <-h.done:
		if !errors.Is(h.err, daemon.ErrGraceExceeded) {
			t.Errorf("err = %v, want ErrGraceExceeded", h.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not give up after the grace period")
	}
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
