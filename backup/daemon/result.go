package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/y360backup/y360backup/backup"
)

// Run outcomes beyond the snapshot statuses ok, partial and failed.
const (
	StatusError       = "error"       // the run could not happen or complete (lock held, user list unavailable)
	StatusInterrupted = "interrupted" // cancelled by shutdown; committed checkpoints are kept
	StatusSkipped     = "skipped"     // due while the same job was still running or queued
)

// Result is the outcome of one run.
type Result struct {
	Job      string
	Started  time.Time
	Finished time.Time
	Snapshot *backup.Snapshot // nil unless the run completed
	Err      error
}

// Status is the snapshot's status, or StatusError / StatusInterrupted.
func (r Result) Status() string {
	switch {
	case r.Err != nil && errors.Is(r.Err, context.Canceled):
		return StatusInterrupted
	case r.Err != nil || r.Snapshot == nil:
		return StatusError
	}
	return r.Snapshot.Status
}

// FailedOutright reports a run that backed up nobody: it could not start or
// complete, or every user failed. Partial runs are not outright failures.
func (r Result) FailedOutright() bool {
	s := r.Status()
	return s == StatusError || s == backup.StatusFailed
}

// Duration is how long the run took.
func (r Result) Duration() time.Duration { return r.Finished.Sub(r.Started) }
