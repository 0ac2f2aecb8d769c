package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
)

// Environment variables that stand in for the global flags (as restic's
// RESTIC_REPOSITORY does).
const (
	envRepository    = "Y360BACKUP_REPOSITORY"
	envConfig        = "Y360BACKUP_CONFIG"
	defaultConfigDir = "/etc/y360backup/config.yaml"
)

func defaultConfigFile() string {
	if f := os.Getenv(envConfig); f != "" {
		return f
	}
	return defaultConfigDir
}

// configWanted reports whether a command given -r also reads a config
// file: the one -c names (which must exist), else the default or
// Y360BACKUP_CONFIG's if it exists (for S3 credentials, cache_dir).
func configWanted(cmd *cobra.Command, file string) bool {
	if f := cmd.Flags().Lookup("config"); f != nil && f.Changed {
		return true
	}
	_, err := os.Stat(file)
	return err == nil
}

// parseRepoSpec reads -r: a directory, s3:BUCKET[/PREFIX], or
// s3:https://ENDPOINT/BUCKET[/PREFIX] (path-style, for MinIO and the like).
// S3 credentials then come from the AWS environment (AWS_ACCESS_KEY_ID,
// AWS_REGION, a profile, ...).
func parseRepoSpec(spec string) (config.Repository, error) {
	rest, isS3 := strings.CutPrefix(spec, "s3:")
	if !isS3 {
		return config.Repository{Type: "fs", Path: spec}, nil
	}
	r := config.Repository{Type: "s3"}
	if strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://") {
		u, err := url.Parse(rest)
		if err != nil || u.Host == "" {
			return r, fmt.Errorf("%w: -r %q: want s3:https://HOST/BUCKET[/PREFIX]", errUsage, spec)
		}
		r.S3.Endpoint, r.S3.PathStyle = u.Scheme+"://"+u.Host, true
		rest = strings.TrimPrefix(u.Path, "/")
	}
	r.S3.Bucket, r.S3.Prefix, _ = strings.Cut(rest, "/")
	if r.S3.Bucket == "" {
		return r, fmt.Errorf("%w: -r %q: no bucket; want s3:BUCKET[/PREFIX] or s3:https://HOST/BUCKET[/PREFIX]", errUsage, spec)
	}
	r.S3.Region = os.Getenv("AWS_REGION")
	return r, nil
}

// withRepo puts -r's repository into cfg (keeping the config's S3
// credentials and tuning when both name S3).
func withRepo(cfg *config.Config, spec string) error {
	if spec == "" {
		return nil
	}
	r, err := parseRepoSpec(spec)
	if err != nil {
		return err
	}
	old := cfg.Repository
	r.CheckpointInterval, r.LeaseTTL = old.CheckpointInterval, old.LeaseTTL
	if r.Type == "s3" && old.Type == "s3" {
		s := old.S3
		s.Bucket, s.Prefix = r.S3.Bucket, r.S3.Prefix
		if r.S3.Endpoint != "" {
			s.Endpoint, s.PathStyle = r.S3.Endpoint, true
		}
		r.S3 = s
	}
	cfg.Repository = r
	return nil
}

// loadReadConfig is the configuration of a command that only reads the
// repository: -r alone needs no config file, and a config file needs no
// organization credentials.
func loadReadConfig(cmd *cobra.Command, g *globalOptions) (*config.Config, error) {
	if g.repo != "" && !configWanted(cmd, g.configFile) {
		cfg := config.ForRepository(config.Repository{})
		return cfg, withRepo(cfg, g.repo)
	}
	cfg, err := config.LoadForReading(g.configFile)
	if err != nil {
		return nil, err
	}
	return cfg, withRepo(cfg, g.repo)
}

// openReadRepo opens an existing repository for reading; where there is
// none it fails with backup.ErrNoRepository (exit code 10), never creates one.
func openReadRepo(ctx context.Context, cfg *config.Config) (*backup.Repository, error) {
	if cfg.Repository.Type == "fs" {
		if _, err := os.Stat(cfg.Repository.Path); os.IsNotExist(err) {
			return nil, noRepoError{cfg.Repository.Path}
		}
	}
	sink, err := openSink(ctx, cfg)
	if err != nil {
		return nil, err
	}
	repo, err := backup.Open(ctx, sink, repoOptions(cfg))
	if errors.Is(err, backup.ErrNoRepository) {
		return nil, noRepoError{sink.String()}
	}
	return repo, err
}

// noRepoError is backup.ErrNoRepository worded for a command that reads.
type noRepoError struct{ where string }

func (e noRepoError) Error() string {
	return e.where + ": no repository there: check -r or repository.path (a backup creates the repository)"
}
func (noRepoError) Unwrap() error { return backup.ErrNoRepository }
