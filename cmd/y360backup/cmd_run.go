package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	_ "time/tzdata" // schedule.timezone must work in scratch/distroless images too

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/backup/daemon"
	"github.com/y360backup/y360backup/backup/daemon/hostlimit"
	"github.com/y360backup/y360backup/backup/daemon/logmask"
	"github.com/y360backup/y360backup/backup/metrics"
	"github.com/y360backup/y360backup/sources"
)

func newRunCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use: "run",
		Example: `  y360backup run                             # as systemd's y360backup.service does
  y360backup -c ./config.yaml run`,
		Short: "Run as a daemon: back up on schedule, serve /metrics and /healthz",
		Long: `Runs in the foreground until SIGTERM or SIGINT, starting backups on the cron
schedules of the config (schedule.default, or one per source). Jobs run side by
side (each source belongs to one job, so an hourly mail job never waits for a
long Disk job); a job due while it is itself still running is skipped and
logged. SIGTERM cancels every running backup (committed checkpoints stay; the
next run resumes) and exits within daemon.grace_period. SIGHUP reloads the
config; an invalid one is logged with its problems and the running one is
kept; runs in progress finish under the old config, and a new job sharing a
source with one of them waits for it. Under systemd (Type=notify) it reports
READY, WATCHDOG and STOPPING itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return runDaemon(cmd.Context(), runDeps{configFile: g.configFile, hup: hup, getenv: os.Getenv})
		},
	}
}

// runDeps is what runDaemon takes from the process; tests fill it by hand.
type runDeps struct {
	configFile string
	hup        <-chan os.Signal
	getenv     func(string) string
	clock      daemon.Clock                               // nil = wall clock
	log        *zap.Logger                                // nil = built from the config
	ready      func(metricsAddr string, d *daemon.Daemon) // called once serving
}

// runDaemon is `y360backup run` without cobra.
func runDaemon(ctx context.Context, deps runDeps) error {
	cfg, err := config.Load(deps.configFile)
	if err != nil {
		return err
	}
	log := deps.log
	if log == nil {
		if log, err = newLogger(cfg); err != nil { // masks emails when asked
			return err
		}
		defer log.Sync()
	} else if cfg.Log.MaskEmails {
		log = log.WithOptions(emailMasker(cfg).Option())
	}
	logStartup(log, "run", deps.configFile)
	m := metrics.New(metrics.Options{Version: version, UserLabel: userLabel(cfg)})
	pt := &politeTransports{m: m, log: log}
	plan, err := buildPlan(ctx, cfg, pt.get(cfg), log, m)
	if err != nil {
		return err
	}

	sd := daemon.NewNotifier(deps.getenv("NOTIFY_SOCKET"))
	heartbeat := daemon.DefaultHeartbeat
	if wd := daemon.WatchdogInterval(deps.getenv("WATCHDOG_USEC"), deps.getenv("WATCHDOG_PID"), os.Getpid()); wd > 0 {
		heartbeat = min(heartbeat, wd/3) // systemd kills us after wd without WATCHDOG=1
	}
	listen := cfg.Metrics.ListenAddr()
	opts := daemon.Options{
		Clock:     deps.clock,
		Log:       log,
		Heartbeat: heartbeat,
		Reload: func() (*daemon.Plan, error) {
			ncfg, err := config.Load(deps.configFile)
			if err != nil {
				return nil, err
			}
			warnRestartOnly(log, cfg, ncfg, listen)
			return buildPlan(ctx, ncfg, pt.get(ncfg), log, m)
		},
	}
	reportTo(&opts, m, sd)
	d, err := daemon.New(plan, opts)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bound, srvDone, err := serveMetrics(ctx, listen, healthMask(cfg), m, d, log)
	if err != nil {
		return err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-deps.hup:
				log.Info("SIGHUP: reloading the configuration", zap.String("file", deps.configFile))
				_ = d.Reload(ctx) // a rejected config is logged by the daemon
			}
		}
	}()

	for _, j := range plan.Jobs {
		log.Info("job scheduled", zap.String("job", j.Name), zap.String("schedule", j.Spec))
	}
	_ = sd.Notify("READY=1\nSTATUS=idle")
	if deps.ready != nil {
		deps.ready(bound, d)
	}
	err = d.Run(ctx)
	_ = sd.Notify("STOPPING=1")
	cancel()
	if serr := <-srvDone; serr != nil && err == nil {
		err = fmt.Errorf("metrics server: %w", serr)
	}
	return err
}

// serveMetrics serves /metrics and /healthz on listen until ctx is done
// ("" serves nothing). It returns the bound address and a channel that
// yields the server's result once it has stopped.
func serveMetrics(ctx context.Context, listen string, mask *logmask.Masker, m *metrics.Metrics, d *daemon.Daemon, log *zap.Logger) (string, <-chan error, error) {
	srvDone := make(chan error, 1)
	if listen == "" {
		srvDone <- nil
		return "", srvDone, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, fmt.Errorf("metrics.listen %s: %w", listen, err)
	}
	health := d.Health
	if mask != nil {
		health = func() error { return maskErr(mask, d.Health()) }
	}
	go func() { srvDone <- metrics.Serve(ctx, ln, m, health) }()
	bound := ln.Addr().String()
	log.Info("serving /metrics and /healthz", zap.String("addr", bound))
	return bound, srvDone, nil
}

// reportTo hangs the daemon's heartbeat, run and schedule hooks on the
// metrics and on systemd's WATCHDOG and STATUS.
func reportTo(opts *daemon.Options, m *metrics.Metrics, sd *daemon.Notifier) {
	var status sdStatus
	opts.OnHeartbeat = func(now time.Time) {
		m.Heartbeat(now)
		_ = sd.Notify("WATCHDOG=1")
	}
	opts.OnRunStart = func(j daemon.Job) {
		m.RunStarted(j.Name)
		_ = sd.Notify(status.started(j.Name))
	}
	opts.OnRunEnd = func(r daemon.Result) {
		m.RunFinished(r.Job, r.Status(), !r.FailedOutright(), r.Duration())
		_ = sd.Notify(status.finished(r.Job, r.Status()))
	}
	opts.OnSkip, opts.OnNext, opts.OnReload = m.Skipped, m.Next, m.Reload
}

// sdStatus builds systemd's STATUS= line. With jobs running side by side,
// the end of one run must not report the daemon idle while others still
// run. The daemon calls its hooks from its loop goroutine one at a time, so
// no lock is needed.
type sdStatus struct{ running []string }

func (s *sdStatus) started(job string) string {
	s.running = append(s.running, job)
	return "STATUS=backing up " + strings.Join(s.running, ", ")
}

func (s *sdStatus) finished(job, result string) string {
	s.running = slices.DeleteFunc(s.running, func(n string) bool { return n == job })
	last := fmt.Sprintf("last run of %s: %s", job, result)
	if len(s.running) == 0 {
		return "STATUS=idle; " + last
	}
	return "STATUS=backing up " + strings.Join(s.running, ", ") + "; " + last
}

// warnRestartOnly logs settings a reload cannot change in a running process.
func warnRestartOnly(log *zap.Logger, old, cur *config.Config, listen string) {
	if cur.Metrics.ListenAddr() != listen {
		log.Warn("metrics.listen changed; it takes effect after a restart", zap.String("serving", listen))
	}
	if cur.Log != old.Log {
		log.Warn("log settings changed; they take effect after a restart")
	}
}

// userLabel is the metrics label for a user's email.
func userLabel(cfg *config.Config) func(string) string {
	if cfg.Log.MaskEmails {
		return emailMasker(cfg).Email
	}
	return nil
}

// healthMask is the masker for /healthz answers, nil when emails are shown.
func healthMask(cfg *config.Config) *logmask.Masker {
	if cfg.Log.MaskEmails {
		return emailMasker(cfg)
	}
	return nil
}

func maskErr(m *logmask.Masker, err error) error {
	if err == nil {
		return nil
	}
	return errors.New(m.Text(err.Error()))
}

// buildPlan turns a config into the daemon's Plan: it opens the repository
// and builds the org client and sources once, on the polite transport tr,
// so token caches and HTTP connections live across runs; a reload builds a
// fresh set.
func buildPlan(ctx context.Context, cfg *config.Config, tr *hostlimit.Transport, log *zap.Logger, m *metrics.Metrics) (*daemon.Plan, error) {
	org, err := newOrgClient(cfg, tr.Client())
	if err != nil {
		return nil, err
	}
	srcs, err := buildSources(cfg, org, tr.Client())
	if err != nil {
		return nil, err
	}
	repo, err := openRepo(ctx, cfg)
	if err != nil {
		return nil, err
	}
	byName := map[string]sources.Source{}
	for _, s := range srcs {
		byName[s.Name()] = s
	}
	plan := &daemon.Plan{
		Location:    cfg.Schedule.Location(),
		Jitter:      cfg.Schedule.Jitter,
		GracePeriod: cfg.Daemon.GracePeriod,
		RunOnStart:  cfg.Daemon.RunOnStart,
	}
	for _, cj := range cfg.Jobs() {
		j, err := daemon.NewJob(cj.Name, cj.Spec, cj.Sources)
		if err != nil {
			return nil, err
		}
		plan.Jobs = append(plan.Jobs, j)
	}
	filter := userFilter(cfg)
	orgSrcs := buildOrgSources(cfg, org)
	var orgJob string // the organization is backed up with the first job
	if len(plan.Jobs) > 0 {
		orgJob = plan.Jobs[0].Name
	}
	plan.Run = func(ctx context.Context, j daemon.Job) (*backup.Snapshot, error) {
		var run []sources.Source
		for _, name := range j.Sources {
			if s, ok := byName[name]; ok {
				run = append(run, s)
			}
		}
		if len(run) == 0 {
			return nil, fmt.Errorf("job %s: none of its sources (%v) is available in this build", j.Name, j.Sources)
		}
		var orgRun []sources.Source
		if j.Name == orgJob {
			orgRun = orgSrcs
		}
		return repo.Backup(ctx, backup.RunOptions{
			Users:       org,
			Sources:     run,
			OrgSources:  orgRun,
			Tokens:      func(u sources.User) sources.TokenSource { return org.Tokens(u) },
			Filter:      filter,
			Concurrency: cfg.Concurrency,
			Log:         log.With(zap.String("job", j.Name)),
			OnStart:     func(users int) { m.Start(j.Name, users) },
			OnUserDone:  func(us backup.UserSnapshot) { m.UserDone(j.Name, us) },
		})
	}
	return plan, nil
}

// politeTransports hands each Plan of `run` its polite transport. A reload
// keeps the transport in use while its limits are unchanged: runs of the
// old plan may still be going beside the new plan's, and a second transport
// would give the same Yandex hosts (above all the token exchange, which
// every source needs) a second full budget. When the limits change, new
// runs get the new budget and runs in progress keep the old one until they
// end. Only the daemon loop calls get (at start and on reload), one at a
// time.
type politeTransports struct {
	m      *metrics.Metrics
	log    *zap.Logger
	limits map[string]hostlimit.Limit
	tr     *hostlimit.Transport
}

func (p *politeTransports) get(cfg *config.Config) *hostlimit.Transport {
	limits := politeLimits(cfg)
	if p.tr != nil && maps.Equal(limits, p.limits) {
		return p.tr
	}
	if p.tr != nil {
		p.log.Info("rate limits changed: new runs use the new budgets; runs in progress keep the old ones until they end")
	}
	p.tr, p.limits = newPoliteTransport(limits, p.m), limits
	return p.tr
}

// politeTransport is the process's HTTP transport with the politeness
// budgets of rate_limits (see politeLimits).
func politeTransport(cfg *config.Config, m *metrics.Metrics) *hostlimit.Transport {
	return newPoliteTransport(politeLimits(cfg), m)
}

// politeLimits are the budgets of rate_limits: token exchanges per hour on
// the OAuth endpoint (under api.rps, which the y360 client applies per host
// on top) and a request rate with Retry-After handling on the CalDAV host.
func politeLimits(cfg *config.Config) map[string]hostlimit.Limit {
	limits := map[string]hostlimit.Limit{}
	if k := hostlimit.KeyOf(cfg.API.OAuthURL); k != "" {
		limits[k] = hostlimit.PerHour(cfg.RateLimits.TokenExchangesPerHour)
	}
	if config.On(cfg.Sources.Calendar.Enabled) {
		if k := hostlimit.KeyOf(cfg.Sources.Calendar.URL); k != "" {
			// Burst 1: evenly spaced requests, never above the rate.
			limits[k] = hostlimit.Limit{Rate: cfg.RateLimits.CalDAVRPS, Burst: 1, Retries: 5}
		}
	}
	if cfg.ContactsOn() { // CardDAV is another host of the same service: its own budget of the same size
		if k := hostlimit.KeyOf(cfg.Sources.Contacts.URL); k != "" {
			limits[k] = hostlimit.Limit{Rate: cfg.RateLimits.CalDAVRPS, Burst: 1, Retries: 5}
		}
	}
	return limits
}

func newPoliteTransport(limits map[string]hostlimit.Limit, m *metrics.Metrics) *hostlimit.Transport {
	var opts []hostlimit.Option
	if m != nil {
		opts = append(opts, hostlimit.WithObserver(func(e hostlimit.Event) { m.HTTP(e.Host, e.Status, e.Waited, e.Throttled) }))
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = 2 * time.Minute
	return hostlimit.New(base, limits, opts...)
}

// newHealthcheckCommand is the container HEALTHCHECK: it asks the running
// daemon's /healthz (no curl or wget in a distroless image).
func newHealthcheckCommand(g *globalOptions) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use: "healthcheck",
		Example: `  y360backup healthcheck                     # asks metrics.listen from the config
  y360backup healthcheck --addr 127.0.0.1:9360`,
		Short: "Ask the running daemon's /healthz; exit 0 when healthy (for container HEALTHCHECK)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if addr == "" {
				cfg, err := config.Load(g.configFile)
				if err != nil {
					return err
				}
				addr = cfg.Metrics.ListenAddr()
				if addr == "" {
					return fmt.Errorf("%w: metrics.listen is empty, so there is no /healthz to ask", errUsage)
				}
			}
			return healthcheck(cmd.Context(), cmd.OutOrStdout(), addr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "daemon address host:port (default: metrics.listen from the config)")
	return cmd
}

func healthcheck(ctx context.Context, out io.Writer, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: --addr %q: %v", errUsage, addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprint(out, string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: HTTP %d", resp.StatusCode)
	}
	return nil
}

// progress prints "users done/total" on one terminal line during a one-off
// backup (cmd_backup.go hooks it to RunOptions.OnStart/OnUserDone when
// stderr is a terminal and --json is off).
type progress struct {
	w           io.Writer
	total, done atomic.Int64
	failed      atomic.Int64
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) start(users int) {
	p.total.Store(int64(users))
	p.print()
}

func (p *progress) userDone(u backup.UserSnapshot) {
	p.done.Add(1)
	if u.Status == backup.StatusFailed {
		p.failed.Add(1)
	}
	p.print()
}

func (p *progress) print() {
	fmt.Fprintf(p.w, "\r\033[Kusers %d/%d done, %d failed", p.done.Load(), p.total.Load(), p.failed.Load())
}

func (p *progress) finish() { fmt.Fprintln(p.w) }
