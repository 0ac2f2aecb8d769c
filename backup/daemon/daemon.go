package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
)

// Defaults of Options and Plan.
const (
	DefaultHeartbeat   = 15 * time.Second
	DefaultGracePeriod = 30 * time.Second
)

// ErrGraceExceeded is returned by Run when the cancelled run did not return
// within the grace period; the process should exit anyway (the repository
// lock of a dead process is recovered by the next run).
var ErrGraceExceeded = errors.New("daemon: the running backup did not stop within the grace period")

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

	// Hooks for metrics, called from the loop goroutine.
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
	Heartbeat time.Time            // last wake-up of the loop
	Running   string               // job running now, "" when idle
	Queued    []string             // jobs waiting for the running one
	Next      map[string]time.Time // next start of each job
	Last      map[string]Result    // latest finished run of each job
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

// active is the run in progress.
type active struct {
	job    Job
	cancel context.CancelFunc
	done   chan Result
}

// loop is the state only Run's goroutine touches.
type loop struct {
	plan  *Plan
	next  map[string]time.Time
	queue []string
	cur   *active
}

// Run runs the schedule until ctx is cancelled. It then cancels the running
// backup and waits for it at most the plan's grace period: nil means it
// stopped in time, ErrGraceExceeded that it did not. Run may be called once.
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
	l := &loop{plan: d.initial, next: map[string]time.Time{}}
	for _, j := range l.plan.Jobs {
		d.schedule(l, j, now)
		if l.plan.RunOnStart {
			l.queue = append(l.queue, j.Name)
		}
	}
	d.beat(now)
	for {
		if l.cur == nil {
			d.startNext(ctx, l)
		}
		d.publish(l)
		now = d.clk.Now()
		wait := d.beatEvery
		for _, t := range l.next {
			if dt := t.Sub(now); dt < wait {
				wait = max(dt, 0)
			}
		}
		timer := d.clk.NewTimer(wait)
		var done <-chan Result
		if l.cur != nil {
			done = l.cur.done
		}
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
		case res := <-done:
			timer.Stop()
			l.cur = nil
			d.finish(res)
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

// due queues a job whose time has come, unless it is running or queued already.
func (d *Daemon) due(l *loop, name string) {
	if (l.cur != nil && l.cur.job.Name == name) || slices.Contains(l.queue, name) {
		d.log.Warn("backup due but the previous run of this job is still going; this start is skipped",
			zap.String("job", name))
		if d.opts.OnSkip != nil {
			d.opts.OnSkip(name)
		}
		return
	}
	if l.cur != nil {
		d.log.Info("backup due; queued behind the running job", zap.String("job", name), zap.String("running", l.cur.job.Name))
	}
	l.queue = append(l.queue, name)
}

// startNext starts the first queued job that still exists in the plan.
func (d *Daemon) startNext(ctx context.Context, l *loop) {
	for len(l.queue) > 0 {
		name := l.queue[0]
		l.queue = l.queue[1:]
		j, ok := l.plan.job(name)
		if !ok {
			continue // removed by a reload
		}
		jctx, cancel := context.WithCancel(ctx)
		a := &active{job: j, cancel: cancel, done: make(chan Result, 1)}
		l.cur = a
		d.log.Info("backup run starting", zap.String("job", j.Name), zap.Strings("sources", j.Sources))
		if d.opts.OnRunStart != nil {
			d.opts.OnRunStart(j)
		}
		run := l.plan.Run
		go func() {
			defer cancel()
			res := Result{Job: j.Name, Started: d.clk.Now()}
			res.Snapshot, res.Err = safeRun(jctx, run, j)
			res.Finished = d.clk.Now()
			a.done <- res
		}()
		return
	}
}

// safeRun turns a panic in a run into an error: the daemon must survive it.
func safeRun(ctx context.Context, run RunFunc, j Job) (snap *backup.Snapshot, err error) {
	defer func() {
		if p := recover(); p != nil {
			snap, err = nil, fmt.Errorf("daemon: run of %s panicked: %v", j.Name, p)
		}
	}()
	return run(ctx, j)
}

// finish records a finished run.
func (d *Daemon) finish(res Result) {
	fields := []zap.Field{zap.String("job", res.Job), zap.String("status", res.Status()),
		zap.Duration("took", res.Duration().Round(time.Millisecond))}
	switch {
	case res.Err != nil && res.Status() == StatusInterrupted:
		d.log.Warn("backup run interrupted; committed checkpoints are kept", append(fields, zap.Error(res.Err))...)
	case res.Err != nil:
		d.log.Error("backup run failed", append(fields, zap.Error(res.Err))...)
	default:
		d.log.Info("backup run finished", append(fields, zap.String("snapshot", res.Snapshot.ID))...)
	}
	d.mu.Lock()
	d.status.Last[res.Job] = res
	d.mu.Unlock()
	if d.opts.OnRunEnd != nil {
		d.opts.OnRunEnd(res)
	}
}

// shutdown cancels the running job and waits for it at most the grace period.
func (d *Daemon) shutdown(l *loop) error {
	d.mu.Lock()
	d.status.Queued = nil
	d.mu.Unlock()
	if l.cur == nil {
		d.log.Info("scheduler stopped")
		return nil
	}
	grace := l.plan.GracePeriod
	if grace <= 0 {
		grace = DefaultGracePeriod
	}
	d.log.Info("stopping: cancelling the running backup", zap.String("job", l.cur.job.Name), zap.Duration("grace", grace))
	l.cur.cancel()
	t := d.clk.NewTimer(grace)
	defer t.Stop()
	select {
	case res := <-l.cur.done:
		d.finish(res)
		d.mu.Lock()
		d.status.Running = ""
		d.mu.Unlock()
		return nil
	case <-t.C():
		d.log.Error("the running backup did not stop within the grace period; exiting anyway",
			zap.String("job", l.cur.job.Name), zap.Duration("grace", grace))
		return fmt.Errorf("%w (%s, job %s)", ErrGraceExceeded, grace, l.cur.job.Name)
	}
}

// Reload asks the loop to rebuild its Plan with Options.Reload. It returns
// the reason when the new configuration was rejected (the old one then
// stays in force). The running backup, if any, finishes under the old Plan.
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

// publish copies the loop state for Status and Health.
func (d *Daemon) publish(l *loop) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status.Running = ""
	if l.cur != nil {
		d.status.Running = l.cur.job.Name
	}
	d.status.Queued = append(d.status.Queued[:0], l.queue...)
	clear(d.status.Next)
	for k, v := range l.next {
		d.status.Next[k] = v
	}
}

// Status returns a copy of the loop's state; safe from any goroutine.
func (d *Daemon) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.status
	s.Queued = slices.Clone(s.Queued)
	s.Next = make(map[string]time.Time, len(d.status.Next))
	for k, v := range d.status.Next {
		s.Next[k] = v
	}
	s.Last = make(map[string]Result, len(d.status.Last))
	for k, v := range d.status.Last {
		s.Last[k] = v
	}
	return s
}

// Health returns nil while the loop is alive (it woke up within three
// heartbeats) and no job's latest run failed outright; otherwise it says
// what is wrong. It backs /healthz.
func (d *Daemon) Health() error {
	s := d.Status()
	now := d.clk.Now()
	select {
	case <-d.stopped:
		return errors.New("scheduler stopped")
	default:
	}
	if !s.Started {
		return errors.New("scheduler not started yet")
	}
	if silent := now.Sub(s.Heartbeat); silent > 3*d.beatEvery {
		return fmt.Errorf("scheduler loop silent for %s", silent.Round(time.Second))
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.Last)) {
		if r := s.Last[name]; r.FailedOutright() {
			msg := "every user failed"
			if r.Err != nil {
				msg = r.Err.Error()
			}
			errs = append(errs, fmt.Errorf("last run of %s (%s) failed: %s", name, r.Finished.UTC().Format(time.RFC3339), msg))
		}
	}
	return errors.Join(errs...)
}
