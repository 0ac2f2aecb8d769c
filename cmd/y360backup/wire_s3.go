package main

import (
	"context"

	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/sinks"
	s3sink "github.com/y360backup/y360backup/sinks/s3"
)

func s3Config(cfg *config.Config) s3sink.Config {
	c := s3sink.NewConfig()
	in := cfg.Repository.S3
	c.Bucket, c.Prefix, c.Region, c.Endpoint, c.PathStyle = in.Bucket, in.Prefix, in.Region, in.Endpoint, in.PathStyle
	c.AccessKey, c.SecretKey = in.AccessKey, in.SecretKey
	c.SSE, c.SSEKMSKeyID, c.StorageClass = in.SSE, in.SSEKMSKeyID, in.StorageClass
	if in.PartSizeMB > 0 {
		c.PartSize = int64(in.PartSizeMB) << 20
	}
	if in.Concurrency > 0 {
		c.Concurrency = in.Concurrency
	}
	return c
}

func openS3(ctx context.Context, cfg *config.Config) (sinks.Sink, error) {
	c := s3Config(cfg)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return s3sink.Open(ctx, c)
}
