package daemon

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// publish copies the loop state for Status and Health.
func (d *Daemon) publish(l *loop) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status.RunningJobs = l.runningNames()
	d.status.Running = strings.Join(d.status.RunningJobs, ", ")
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
	s.RunningJobs = slices.Clone(s.RunningJobs)
	s.Queued = slices.Clone(s.Queued)
	s.Next = maps.Clone(d.status.Next)
	s.Last = maps.Clone(d.status.Last)
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
