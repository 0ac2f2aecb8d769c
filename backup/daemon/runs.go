package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
)

// Jobs whose source sets are disjoint run side by side: the repository
// leases (bucket of users, source) pairs, so runs over different sources
// never write the same thing, and an hourly mail job must not wait a day
// for a Disk job. Jobs that share a source take turns instead: both would
// lease the same names, and the loser would only skip those users. So at
// most one run per source is in progress in this process.

// active is a run in progress.
type active struct {
	job    Job
	cancel context.CancelFunc
	res    Result // written by the run's goroutine before it sends on loop.ended
}

// running reports whether a run of the job named name is in progress.
func (l *loop) running(name string) bool {
	return slices.ContainsFunc(l.runs, func(a *active) bool { return a.job.Name == name })
}

// blockers names the running jobs and the first `queued` queued jobs that
// share a source with j. A queued job also waits for the jobs queued before
// it that share a source, so jobs that overlap keep their order and a
// stream of later, shorter runs cannot starve an earlier one.
func (l *loop) blockers(j Job, queued int) []string {
	var names []string
	shares := func(o Job) bool {
		return slices.ContainsFunc(o.Sources, func(s string) bool { return slices.Contains(j.Sources, s) })
	}
	for _, a := range l.runs {
		if shares(a.job) {
			names = append(names, a.job.Name)
		}
	}
	for _, name := range l.queue[:queued] {
		if o, ok := l.plan.job(name); ok && shares(o) {
			names = append(names, name)
		}
	}
	return names
}

// remove forgets a run that ended.
func (l *loop) remove(a *active) {
	l.runs = slices.DeleteFunc(l.runs, func(x *active) bool { return x == a })
}

// runningNames lists the running jobs in the order they started.
func (l *loop) runningNames() []string {
	names := make([]string, len(l.runs))
	for i, a := range l.runs {
		names[i] = a.job.Name
	}
	return names
}

// startQueued starts, in queue order, every queued job that shares no
// source with a running job or with a job still queued before it; the
// others stay queued. Jobs a reload removed are dropped.
func (d *Daemon) startQueued(ctx context.Context, l *loop) {
	for i := 0; i < len(l.queue); {
		j, ok := l.plan.job(l.queue[i])
		if !ok {
			l.queue = slices.Delete(l.queue, i, i+1)
			continue
		}
		if len(l.blockers(j, i)) > 0 {
			i++
			continue
		}
		l.queue = slices.Delete(l.queue, i, i+1)
		d.start(ctx, l, j)
	}
}

// start runs j in its own goroutine under the current plan's RunFunc, which
// it keeps even if a reload replaces the plan meanwhile.
func (d *Daemon) start(ctx context.Context, l *loop, j Job) {
	jctx, cancel := context.WithCancel(ctx)
	a := &active{job: j, cancel: cancel}
	l.runs = append(l.runs, a)
	d.log.Info("backup run starting", zap.String("job", j.Name), zap.Strings("sources", j.Sources),
		zap.Strings("running", l.runningNames()))
	if d.opts.OnRunStart != nil {
		d.opts.OnRunStart(j)
	}
	run, ended := l.plan.Run, l.ended
	go func() {
		defer cancel()
		res := Result{Job: j.Name, Started: d.clk.Now()}
		res.Snapshot, res.Err = safeRun(jctx, run, j)
		res.Finished = d.clk.Now()
		a.res = res
		select {
		case ended <- a:
		case <-d.stopped: // Run gave up on this run after the grace period
		}
	}()
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

// shutdown drops the queue, cancels every running job and waits for all of
// them; one grace period bounds the whole wait, not each run, so the
// process exits in time however many jobs ran.
func (d *Daemon) shutdown(l *loop) error {
	l.queue = nil
	d.publish(l)
	if len(l.runs) == 0 {
		d.log.Info("scheduler stopped")
		return nil
	}
	grace := l.plan.GracePeriod
	if grace <= 0 {
		grace = DefaultGracePeriod
	}
	d.log.Info("stopping: cancelling the running backups", zap.Strings("jobs", l.runningNames()), zap.Duration("grace", grace))
	for _, a := range l.runs {
		a.cancel()
	}
	t := d.clk.NewTimer(grace)
	defer t.Stop()
	for len(l.runs) > 0 {
		select {
		case a := <-l.ended:
			l.remove(a)
			d.finish(a.res)
			d.publish(l)
		case <-t.C():
			stuck := l.runningNames()
			d.log.Error("backups did not stop within the grace period; exiting anyway",
				zap.Strings("jobs", stuck), zap.Duration("grace", grace))
			return fmt.Errorf("%w (%s, still running: %s)", ErrGraceExceeded, grace, strings.Join(stuck, ", "))
		}
	}
	return nil
}
