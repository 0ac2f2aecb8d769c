package daemon

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Defaults of Options and Plan.
const (
	DefaultHeartbeat   = 15 * time.Second
	DefaultGracePeriod = 30 * time.Second
)

// ErrGraceExceeded is returned by Run when a cancelled run did not return
// within the grace period; the process should exit anyway (the leases of a
// dead process are free again after their TTL, and the next run resumes from
// the last checkpoint).
var ErrGraceExceeded = errors.New("daemon: a running backup did not stop within the grace period")

// Options tune a Daemon. Every field is optional.
type Options struct {
	Clock Clock       // nil = RealClock
	Log   *zap.Logger // nil = no logging
	// Jitter returns a random duration in [0, max); nil = uniform random.
	Jitter func(max time.Duration) time.Duration
	// Heartbeat is how often the loop wakes up even when nothing is due,
	// to prove it is alive (default DefaultHeartbeat).
	Heartbeat time.Duration
	// OnHeartbeat is called from the loop goroutine on every wake-up
	// (e.g. to send WATCHDOG=1 to systemd: the watchdog then checks the loop
	// itself, not just the process).
	OnHeartbeat func(now time.Time)
	// Reload builds a fresh Plan when Reload is called (SIGHUP). When it
	// fails, the running Plan is kept. nil = reloading is refused.
	Reload func() (*Plan, error)

	// Hooks for metrics, called from the loop goroutine (so never two at
	// once). Starts and ends of jobs that run side by side interleave:
	// OnRunEnd of one job may come between OnRunStart and OnRunEnd of
	// another.
	OnRunStart func(job Job)
	OnRunEnd   func(Result)
	OnSkip     func(job string)
	OnNext     func(job string, at time.Time) // the job's next start (jitter included)
	OnReload   func(err error)
}

// Daemon is the scheduler loop; see the package doc.
type Daemon struct {
	opts      Options
	clk       Clock
	log       *zap.Logger
	jitter    func(time.Duration) time.Duration
	beatEvery time.Duration

	initial  *Plan
	reloadCh chan chan error
	stopped  chan struct{}
	runOnce  sync.Once

	mu     sync.Mutex
	status Status
}

// Status is a snapshot of the loop's state.
type Status struct {
	Started   bool
	Heartbeat time.Time // last wake-up of the loop
	// Running names the jobs running now joined by ", " in the order they
	// started ("" when idle). It was a single name when one job ran at a
	// time; with one job running it still is. RunningJobs is the list.
	Running     string
	RunningJobs []string
	Queued      []string             // jobs waiting for a job that shares a source
	Next        map[string]time.Time // next start of each job
	Last        map[string]Result    // latest finished run of each job
}

// New returns a Daemon that will run plan. It checks the plan now so a bad
// one fails at startup rather than at the first tick.
func New(plan *Plan, opts Options) (*Daemon, error) {
	if err := plan.check(); err != nil {
		return nil, err
	}
	d := &Daemon{
		opts:      opts,
		clk:       opts.Clock,
		log:       opts.Log,
		jitter:    opts.Jitter,
		beatEvery: opts.Heartbeat,
		initial:   plan,
		reloadCh:  make(chan chan error),
		stopped:   make(chan struct{}),
		status:    Status{Next: map[string]time.Time{}, Last: map[string]Result{}},
	}
	if d.clk == nil {
		d.clk = RealClock{}
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if d.jitter == nil {
		d.jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max)
		}
	}
	if d.beatEvery <= 0 {
		d.beatEvery = DefaultHeartbeat
	}
	return d, nil
}

// loop is the state only Run's goroutine touches.
type loop struct {
	plan  *Plan
	next  map[string]time.Time
	queue []string
	runs  []*active    // in the order they started; pairwise disjoint sources
	ended chan *active // a run's goroutine hands its finished run back here
}

// Run runs the schedule until ctx is cancelled. It then cancels every
// running backup and waits for all of them at most the plan's grace period:
// nil means they stopped in time, ErrGraceExceeded that one did not. Run may
// be called once.
func (d *Daemon) Run(ctx context.Context) error {
	err := errors.New("daemon: Run called twice")
	d.runOnce.Do(func() {
		defer close(d.stopped)
		err = d.run(ctx)
	})
	return err
}

func (d *Daemon) run(ctx context.Context) error {
	now := d.clk.Now()
	l := &loop{plan: d.initial, next: map[string]time.Time{}, ended: make(chan *active)}
	for _, j := range l.plan.Jobs {
		d.schedule(l, j, now)
		if l.plan.RunOnStart {
			l.queue = append(l.queue, j.Name)
		}
	}
	d.beat(now)
	for {
		d.startQueued(ctx, l)
		d.publish(l)
		now = d.clk.Now()
		wait := d.beatEvery
		for _, t := range l.next {
			if dt := t.Sub(now); dt < wait {
				wait = max(dt, 0)
			}
		}
		timer := d.clk.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return d.shutdown(l)
		case <-timer.C():
			now = d.clk.Now()
			d.beat(now)
			for _, j := range l.plan.Jobs {
				if t, ok := l.next[j.Name]; ok && !now.Before(t) {
					d.due(l, j.Name)
					d.schedule(l, j, now)
				}
			}
		case a := <-l.ended:
			timer.Stop()
			l.remove(a)
			d.finish(a.res)
		case reply := <-d.reloadCh:
			timer.Stop()
			err := d.reload(l)
			d.publish(l) // Status reflects the new plan once Reload returns
			reply <- err
		}
	}
}

// schedule computes j's next start after now (jitter included).
func (d *Daemon) schedule(l *loop, j Job, now time.Time) {
	t := j.next(now, l.plan.loc())
	if t.IsZero() {
		delete(l.next, j.Name)
		return
	}
	t = t.Add(d.jitter(l.plan.Jitter))
	l.next[j.Name] = t
	if d.opts.OnNext != nil {
		d.opts.OnNext(j.Name, t)
	}
	d.log.Debug("backup scheduled", zap.String("job", j.Name), zap.Time("at", t))
}

// due queues a job whose time has come, unless it is running or queued
// already: a job never overlaps itself, and a backlog of missed starts is
// one run, not many.
func (d *Daemon) due(l *loop, name string) {
	if l.running(name) || slices.Contains(l.queue, name) {
		d.log.Warn("backup due but the previous run of this job is still going; this start is skipped",
			zap.String("job", name))
		if d.opts.OnSkip != nil {
			d.opts.OnSkip(name)
		}
		return
	}
	if j, ok := l.plan.job(name); ok {
		if waitFor := l.blockers(j, len(l.queue)); len(waitFor) > 0 {
			d.log.Info("backup due; queued until the jobs sharing its sources finish",
				zap.String("job", name), zap.Strings("waiting_for", waitFor))
		}
	}
	l.queue = append(l.queue, name)
}

// Reload asks the loop to rebuild its Plan with Options.Reload. It returns
// the reason when the new configuration was rejected (the old one then
// stays in force). Backups running at the time finish under the old Plan;
// jobs of the new Plan that share a source with one of them wait for it.
func (d *Daemon) Reload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case d.reloadCh <- reply:
	case <-d.stopped:
		return errors.New("daemon: not running")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Daemon) reload(l *loop) error {
	var p *Plan
	err := errors.New("daemon: reloading is not configured")
	if d.opts.Reload != nil {
		p, err = d.opts.Reload()
		if err == nil {
			err = p.check()
		}
	}
	if d.opts.OnReload != nil {
		d.opts.OnReload(err)
	}
	if err != nil {
		d.log.Error("configuration reload rejected; the running configuration stays in force", zap.Error(err))
		return err
	}
	now := d.clk.Now()
	old, oldNext := l.plan, l.next
	l.plan, l.next = p, map[string]time.Time{}
	for _, j := range p.Jobs {
		oj, ok := old.job(j.Name)
		t, had := oldNext[j.Name]
		if ok && had && oj.Spec == j.Spec && old.loc().String() == p.loc().String() && old.Jitter == p.Jitter {
			l.next[j.Name] = t // unchanged: keep the start already drawn
			continue
		}
		d.schedule(l, j, now)
	}
	l.queue = slices.DeleteFunc(l.queue, func(n string) bool { _, ok := p.job(n); return !ok })
	names := make([]string, 0, len(p.Jobs))
	for _, j := range p.Jobs {
		names = append(names, j.Name+" ("+j.Spec+")")
	}
	d.log.Info("configuration reloaded", zap.Strings("jobs", names))
	return nil
}

// beat records a loop wake-up.
func (d *Daemon) beat(now time.Time) {
	d.mu.Lock()
	d.status.Started = true
	d.status.Heartbeat = now
	d.mu.Unlock()
	if d.opts.OnHeartbeat != nil {
		d.opts.OnHeartbeat(now)
	}
}
