package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/backup/daemon/logmask"
	"github.com/y360backup/y360backup/internal/journald"
	"github.com/y360backup/y360backup/sinks"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// loadConfig reads the config named by --config (and -r's repository).
func loadConfig(g *globalOptions) (*config.Config, error) {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil, err
	}
	return cfg, withRepo(cfg, g.repo)
}

// checkWiring makes the checks a run makes when it builds its parts from
// cfg (sources, the S3 sink's settings, files they read), without
// connecting anywhere, so that config check passes only what a run accepts.
func checkWiring(cfg *config.Config) error {
	var errs []error
	if _, err := buildSources(cfg, nil, nil); err != nil {
		errs = append(errs, err)
	}
	if cfg.Repository.Type == "s3" {
		if err := s3Config(cfg).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("repository.s3: %w", err))
		}
	}
	return errors.Join(errs...)
}

// openSink builds the repository's sink from the config.
func openSink(ctx context.Context, cfg *config.Config) (sinks.Sink, error) {
	switch cfg.Repository.Type {
	case "fs":
		c := fssink.NewConfig()
		c.Path = cfg.Repository.Path
		return fssink.Open(c)
	case "s3":
		return openS3(ctx, cfg)
	}
	return nil, fmt.Errorf("repository type %q is not supported", cfg.Repository.Type)
}

// openRepo opens (creating if empty) the repository.
func openRepo(ctx context.Context, cfg *config.Config) (*backup.Repository, error) {
	sink, err := openSink(ctx, cfg)
	if err != nil {
		return nil, err
	}
	abortStaleUploads(ctx, sink)
	return backup.OpenOrInit(ctx, sink, repoOptions(cfg))
}

func repoOptions(cfg *config.Config) backup.RepoOptions {
	return backup.RepoOptions{SpoolDir: cfg.SpoolDir, CacheDir: cacheDir(cfg),
		CommitInterval: cfg.Repository.CheckpointInterval, LeaseTTL: cfg.Repository.LeaseTTL}
}

// staleUploadAge: an S3 multipart upload older than this is a killed run's
// leftover (a Put takes minutes; younger ones may belong to a run elsewhere).
const staleUploadAge = 24 * time.Hour

// abortStaleUploads aborts leftover multipart uploads (issue 16.6), best
// effort: a key without the permission, or a store that is down, leaves
// them to the bucket lifecycle rule (docs/deployment.md, "S3 leftovers").
func abortStaleUploads(ctx context.Context, sink sinks.Sink) {
	if a, ok := sink.(interface {
		AbortStale(context.Context, time.Time) (int, error)
	}); ok {
		_, _ = a.AbortStale(ctx, time.Now().Add(-staleUploadAge))
	}
}

// cacheDir is where the local state cache lives: cache_dir, else systemd's
// $CACHE_DIRECTORY, else the user's cache directory; "off" disables it.
func cacheDir(cfg *config.Config) string {
	switch cfg.CacheDir {
	case "off":
		return ""
	case "":
	default:
		return cfg.CacheDir
	}
	if d := os.Getenv("CACHE_DIRECTORY"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "y360backup")
	}
	return ""
}

// newOrgClient builds the Yandex 360 client from the config. hc (nil = the
// client's default) should be the polite client of politeTransport, with no
// overall timeout: waiting for the token budget is bounded by the run's
// context and hung servers by the transport's ResponseHeaderTimeout.
func newOrgClient(cfg *config.Config, hc *http.Client) (*y360.Client, error) {
	return y360.New(y360.Config{
		HTTPClient:   hc,
		OrgID:        cfg.Organization.ID,
		AdminToken:   cfg.Organization.AdminToken,
		ClientID:     cfg.Organization.ClientID,
		ClientSecret: cfg.Organization.ClientSecret,
		APIBase:      cfg.API.DirectoryURL,
		OAuthURL:     cfg.API.OAuthURL,
		RPS:          cfg.API.RPS,
	})
}

// userFilter applies the config's user selection.
func userFilter(cfg *config.Config) func(sources.User) (bool, string) {
	return func(u sources.User) (bool, string) {
		return cfg.Users.Selected(u.Email, u.Robot, u.Enabled)
	}
}

// newLogger builds a zap logger: with journald priority prefixes when
// stderr is the journal (systemd) or log.format is journald, JSON when not
// on a terminal (containers) or when asked, a console encoder otherwise.
func newLogger(cfg *config.Config) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(cfg.Log.Level); err != nil {
		return nil, err
	}
	enc := logEncoder(cfg.Log.Format, journald.IsJournal(os.Stderr, os.Getenv("JOURNAL_STREAM")), isTerminal(os.Stderr))
	core := zapcore.NewCore(enc, zapcore.Lock(os.Stderr), lvl)
	opts := []zap.Option{zap.AddCaller(), zap.ErrorOutput(zapcore.Lock(os.Stderr))}
	if cfg.Log.MaskEmails {
		opts = append(opts, emailMasker(cfg).Option())
	}
	return zap.New(core, opts...), nil
}

// logEncoder picks the log layout for log.format and where stderr goes.
func logEncoder(format string, underJournal, terminal bool) zapcore.Encoder {
	switch {
	case format == "journald" || format == "auto" && underJournal:
		return journald.TextEncoder()
	case format == "json" || format == "auto" && !terminal:
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		if underJournal { // log.format: json under systemd keeps its priorities
			enc = journald.Encoder(enc)
		}
		return enc
	}
	ec := zap.NewDevelopmentEncoderConfig()
	ec.EncodeLevel = zapcore.CapitalColorLevelEncoder
	return zapcore.NewConsoleEncoder(ec)
}

// emailMasker gives users stable pseudonyms in logs, metric labels and
// /healthz (log.mask_emails). Its key is the organization's client secret,
// which every command that reaches users has, so the pseudonyms are the
// same across runs and cannot be recomputed from a list of addresses by
// someone who only reads the logs. Without a secret (commands that only
// read the repository) the key is the organization id: still stable, but
// guessable; docs/deployment.md says so.
func emailMasker(cfg *config.Config) *logmask.Masker {
	if cfg.Organization.ClientSecret != "" {
		return logmask.New([]byte("client-secret:" + cfg.Organization.ClientSecret))
	}
	return logmask.New([]byte("org:" + cfg.Organization.ID))
}

// logStartup logs the first line of a command that runs under systemd or
// cron: which build runs, with which config, so a journal excerpt says both.
func logStartup(log *zap.Logger, command, configFile string) {
	if abs, err := filepath.Abs(configFile); err == nil {
		configFile = abs
	}
	log.Info("y360backup starting", zap.String("command", command), zap.String("version", version),
		zap.String("config", configFile), zap.Int("pid", os.Getpid()))
}

// isTerminal reports whether f is a terminal (progress lines, console logs).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
