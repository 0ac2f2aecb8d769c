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
	"github.com/y360backup/y360backup/sinks"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/y360"
)

// loadConfig reads the config named by --config.
func loadConfig(g *globalOptions) (*config.Config, error) {
	return config.Load(g.configFile)
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
	return backup.OpenOrInit(ctx, sink, backup.RepoOptions{SpoolDir: cfg.SpoolDir, CacheDir: cacheDir(cfg),
		CommitInterval: cfg.Repository.CheckpointInterval, LeaseTTL: cfg.Repository.LeaseTTL})
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

// newLogger builds a zap logger: JSON when not on a terminal (systemd,
// containers) or when asked, a console encoder otherwise.
func newLogger(cfg config.Log) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(cfg.Level); err != nil {
		return nil, err
	}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if isTerminal(os.Stderr) {
			format = "console"
		}
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Encoding = format
	zc.Sampling = nil
	zc.DisableStacktrace = true
	if format == "console" {
		zc.EncoderConfig = zap.NewDevelopmentEncoderConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	var opts []zap.Option
	if cfg.MaskEmails {
		opts = append(opts, logmask.Option())
	}
	return zc.Build(opts...)
}

// isTerminal reports whether f is a terminal (progress lines, console logs).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
