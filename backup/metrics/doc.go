// Package metrics exposes the daemon's Prometheus metrics and its /healthz
// endpoint.
//
// What an operator alerts on:
//
//   - y360backup_user_last_success_timestamp_seconds{user_id,user,source}:
//     when each user's source was last backed up completely or partially
//     (the recovery point); alert when time() minus it exceeds the RPO.
//   - y360backup_last_run_success{job} (0 after a run that backed up nobody)
//     and y360backup_runs_total{job,status}.
//   - y360backup_errors_total{source,kind}: failed items and failed
//     user sources.
//   - y360backup_scheduler_heartbeat_timestamp_seconds: the loop is alive.
//   - y360backup_http_throttled_total{host}: Yandex asked us to slow down.
//
// Hooks (RunStarted, Start, UserDone, RunFinished, ...) are plain methods so
// the CLI can hang them on backup.RunOptions and daemon.Options; all are
// safe for concurrent use. The registry is per Metrics value, never global.
package metrics
