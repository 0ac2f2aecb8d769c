package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/y360backup/y360backup/backup"
)

// Job is a set of sources backed up together on one schedule.
type Job struct {
	Name    string   // unique within a Plan, e.g. "mail+calendar"
	Spec    string   // the cron spec as configured
	Sources []string // source names the run covers
	sched   cron.Schedule
}

// NewJob parses spec (standard five-field cron, descriptors such as @daily
// or @every 2h, optionally prefixed with CRON_TZ=Zone).
func NewJob(name, spec string, sourceNames []string) (Job, error) {
	s, err := cron.ParseStandard(strings.TrimSpace(spec))
	if err != nil {
		return Job{}, fmt.Errorf("daemon: job %s: schedule %q: %w", name, spec, err)
	}
	return Job{Name: name, Spec: spec, Sources: append([]string(nil), sourceNames...), sched: s}, nil
}

// next is the first scheduled instant strictly after t, read in loc (a
// CRON_TZ in the spec wins). The zero time means never.
func (j Job) next(t time.Time, loc *time.Location) time.Time {
	if j.sched == nil {
		return time.Time{}
	}
	return j.sched.Next(t.In(loc))
}

// RunFunc performs one backup run of job. It must return soon after ctx is
// cancelled. The snapshot is nil when the run did not complete.
type RunFunc func(ctx context.Context, job Job) (*backup.Snapshot, error)

// Plan is what one configuration turns into.
type Plan struct {
	Jobs        []Job
	Location    *time.Location // schedules are read in this zone; nil = time.Local
	Jitter      time.Duration  // each start is delayed by a random [0, Jitter)
	GracePeriod time.Duration  // see Daemon.Run; 0 = 30s
	RunOnStart  bool           // start every job once when the daemon starts
	Run         RunFunc
}

func (p *Plan) check() error {
	if p == nil || p.Run == nil {
		return fmt.Errorf("daemon: plan has no RunFunc")
	}
	seen := map[string]bool{}
	for _, j := range p.Jobs {
		if j.sched == nil {
			return fmt.Errorf("daemon: job %q was not built with NewJob", j.Name)
		}
		if seen[j.Name] {
			return fmt.Errorf("daemon: two jobs named %q", j.Name)
		}
		seen[j.Name] = true
	}
	return nil
}

func (p *Plan) loc() *time.Location {
	if p.Location == nil {
		return time.Local
	}
	return p.Location
}

func (p *Plan) job(name string) (Job, bool) {
	for _, j := range p.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return Job{}, false
}
