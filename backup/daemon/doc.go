// Package daemon runs backups on schedule for `y360backup run`.
//
// Concepts:
//
//   - Job: a set of sources backed up together on one cron schedule
//     (robfig/cron/v3 syntax: five fields, @daily, @every 6h, CRON_TZ=...).
//     Sources whose schedules are equal share a job, so one run lists the
//     users once for all of them.
//   - Plan: what one configuration turns into: the jobs, their time zone and
//     jitter, the shutdown grace period, and the RunFunc that performs a run
//     (built by the CLI around backup.Repository.Backup). A SIGHUP builds a
//     new Plan; if building fails the old Plan stays in force.
//   - Daemon: the loop. It owns the only goroutine that decides what runs.
//     Jobs whose source sets are disjoint run side by side (the repository
//     leases (bucket, source) pairs, so they never write the same thing and
//     an hourly mail job does not wait for a day-long Disk job); a job due
//     while a job sharing one of its sources runs, or waits before it, is
//     queued, so at most one run per source is in progress; a job due while
//     it is itself running or queued is skipped and logged. It beats a
//     heartbeat (for /healthz and the systemd watchdog) even when nothing is
//     due, and on shutdown cancels every running backup, whose committed
//     checkpoints stay, and waits at most the grace period for all of them.
//
// The loop takes its time from a Clock, so tests drive schedules with a fake
// clock instead of sleeping. Notifier speaks systemd's sd_notify protocol
// (READY, WATCHDOG, STOPPING, STATUS) without any dependency.
package daemon
