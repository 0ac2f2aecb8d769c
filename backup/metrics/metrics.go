package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/y360backup/y360backup/backup"
)

// Options tune a Metrics. Every field is optional.
type Options struct {
	Now func() time.Time // nil = time.Now
	// UserLabel returns the "user" label for an email (e.g. a masking
	// function); nil = the email itself. Series are keyed by user_id too,
	// so masked labels that collide stay apart.
	UserLabel func(email string) string
	// Version fills y360backup_build_info.
	Version string
}

// Metrics holds the collectors in a private registry.
type Metrics struct {
	reg       *prometheus.Registry
	now       func() time.Time
	userLabel func(string) string

	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	lastRunEnd    *prometheus.GaugeVec
	lastRunOK     *prometheus.GaugeVec
	skipped       *prometheus.CounterVec
	running       *prometheus.GaugeVec
	usersSelected *prometheus.GaugeVec
	usersDone     *prometheus.GaugeVec
	items         *prometheus.CounterVec
	bytes         *prometheus.CounterVec
	stored        *prometheus.CounterVec
	errors        *prometheus.CounterVec
	userLastOK    *prometheus.GaugeVec
	nextRun       *prometheus.GaugeVec
	heartbeat     prometheus.Gauge
	reloads       *prometheus.CounterVec
	httpReqs      *prometheus.CounterVec
	httpThrottled *prometheus.CounterVec
	httpWait      *prometheus.CounterVec
}

const ns = "y360backup"

// New builds the collectors and registers them (plus Go and process metrics).
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: opts.Now, userLabel: opts.UserLabel}
	if m.now == nil {
		m.now = time.Now
	}
	if m.userLabel == nil {
		m.userLabel = func(e string) string { return e }
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
		m.reg.MustRegister(g)
		return g
	}
	m.runs = counter("runs_total", "Backup runs by job and outcome (ok, partial, failed, error, interrupted).", "job", "status")
	m.runDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "run_duration_seconds", Help: "Duration of backup runs.",
		Buckets: []float64{10, 30, 60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600},
	}, []string{"job"})
	m.reg.MustRegister(m.runDuration)
	m.lastRunEnd = gaugeVec("last_run_end_timestamp_seconds", "When the job's latest run ended (unix time).", "job")
	m.lastRunOK = gaugeVec("last_run_success", "1 if the job's latest run backed up at least one user, else 0.", "job")
	m.skipped = counter("runs_skipped_total", "Starts skipped because the same job was still running or queued.", "job")
	m.running = gaugeVec("run_in_progress", "1 while a run of the job is in progress.", "job")
	// Per job: jobs with disjoint sources run side by side, and one
	// unlabelled gauge would mix their progress.
	m.usersSelected = gaugeVec("run_users_selected", "Users selected by the job's current or latest run.", "job")
	m.usersDone = gaugeVec("run_users_done", "Users finished so far by the job's current or latest run.", "job")
	m.items = counter("items_total", "Items (messages, calendar objects, files) added or changed.", "source")
	m.bytes = counter("bytes_total", "Plaintext bytes of items added or changed.", "source")
	m.stored = counter("stored_bytes_total", "Compressed bytes written to the repository (new objects and index).", "source")
	m.errors = counter("errors_total", "Failures: kind=item (one item failed) or kind=source (a user's whole source failed).", "source", "kind")
	m.userLastOK = gaugeVec("user_last_success_timestamp_seconds",
		"When the user's source was last backed up completely or partially (unix time): the recovery point.", "user_id", "user", "source")
	m.nextRun = gaugeVec("next_run_timestamp_seconds", "When the job starts next (unix time, jitter included).", "job")
	m.heartbeat = gauge("scheduler_heartbeat_timestamp_seconds", "Last wake-up of the scheduler loop (unix time).")
	m.reloads = counter("config_reloads_total", "Configuration reloads (SIGHUP) by result (ok, rejected).", "result")
	m.httpReqs = counter("http_requests_total", "HTTP answers from rate-limited hosts by status code (0 = no answer).", "host", "code")
	m.httpThrottled = counter("http_throttled_total", "Answers asking us to slow down (429, or 503 with Retry-After).", "host")
	m.httpWait = counter("http_wait_seconds_total", "Time requests waited for the host's budget or a Retry-After pause.", "host")
	build := gaugeVec("build_info", "Always 1; the version label says which build runs.", "version")
	build.WithLabelValues(opts.Version).Set(1)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RunStarted marks a job's run as in progress.
func (m *Metrics) RunStarted(job string) { m.running.WithLabelValues(job).Set(1) }

// Start is a backup.RunOptions.OnStart hook for a run of job.
func (m *Metrics) Start(job string, users int) {
	m.usersSelected.WithLabelValues(job).Set(float64(users))
	m.usersDone.WithLabelValues(job).Set(0)
}

// UserDone is a backup.RunOptions.OnUserDone hook for a run of job: it
// counts the user's items, bytes and errors per source and moves the
// user's recovery point.
func (m *Metrics) UserDone(job string, us backup.UserSnapshot) {
	m.usersDone.WithLabelValues(job).Inc()
	now := float64(m.now().UnixNano()) / 1e9
	label := m.userLabel(us.Email)
	for name, s := range us.Sources {
		m.items.WithLabelValues(name).Add(float64(s.Stats.Items))
		m.bytes.WithLabelValues(name).Add(float64(s.Stats.Bytes))
		m.stored.WithLabelValues(name).Add(float64(s.Stats.UploadedBytes + s.Stats.IndexBytes))
		if s.Stats.Failed > 0 {
			m.errors.WithLabelValues(name, "item").Add(float64(s.Stats.Failed))
		}
		switch s.Status {
		case backup.StatusOK, backup.StatusPartial:
			m.userLastOK.WithLabelValues(us.ID, label, name).Set(now)
		default:
			m.errors.WithLabelValues(name, "source").Inc()
		}
	}
}

// RunFinished records a run's end. ok is false when it backed up nobody.
func (m *Metrics) RunFinished(job, status string, ok bool, took time.Duration) {
	m.running.WithLabelValues(job).Set(0)
	m.runs.WithLabelValues(job, status).Inc()
	m.runDuration.WithLabelValues(job).Observe(took.Seconds())
	m.lastRunEnd.WithLabelValues(job).Set(float64(m.now().Unix()))
	v := 0.0
	if ok {
		v = 1
	}
	m.lastRunOK.WithLabelValues(job).Set(v)
}

// Skipped counts a start skipped because the job was still running.
func (m *Metrics) Skipped(job string) { m.skipped.WithLabelValues(job).Inc() }

// Next records a job's next start.
func (m *Metrics) Next(job string, at time.Time) {
	m.nextRun.WithLabelValues(job).Set(float64(at.Unix()))
}

// Heartbeat records a scheduler wake-up.
func (m *Metrics) Heartbeat(at time.Time) { m.heartbeat.Set(float64(at.Unix())) }

// Reload counts a configuration reload; err != nil means it was rejected.
func (m *Metrics) Reload(err error) {
	if err != nil {
		m.reloads.WithLabelValues("rejected").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
}

// HTTP records one answer from a rate-limited host (hostlimit's observer).
func (m *Metrics) HTTP(host string, status int, waited time.Duration, throttled bool) {
	m.httpReqs.WithLabelValues(host, strconv.Itoa(status)).Inc()
	if throttled {
		m.httpThrottled.WithLabelValues(host).Inc()
	}
	if waited > 0 {
		m.httpWait.WithLabelValues(host).Add(waited.Seconds())
	}
}
