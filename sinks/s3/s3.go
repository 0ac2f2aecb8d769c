package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/sinks"
)

// Sink stores objects in one bucket under a key prefix. It is safe for
// concurrent use.
type Sink struct {
	cfg    Config // with defaults applied
	client *s3.Client
	where  string // "s3:bucket/prefix" for messages

	// cond is whether the store honours If-None-Match on writes: condUnknown
	// until a store answers NotImplemented (then condNo for the life of the
	// Sink) or Check proves it ignores the header.
	cond atomic.Int32
	// parts recycles PartSize buffers between multipart uploads.
	parts sync.Pool
}

var _ sinks.Sink = (*Sink)(nil)

const (
	condUnknown int32 = iota // send If-None-Match; assume it works
	condNo                   // store lacks it: HEAD before PUT (racy, but the best there is)
)

// Open connects to the bucket: it builds a client from cfg (or the SDK's
// default credential chain) and lists one key to check that the bucket exists
// and the credentials work, so configuration mistakes surface here with a
// clear message.
func Open(ctx context.Context, cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Sink{cfg: cfg, where: "s3:" + cfg.Bucket + "/" + cfg.Prefix}
	s.parts.New = func() any { b := make([]byte, cfg.PartSize); return &b }

	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return newRetryer(cfg.MaxRetries) }),
		config.WithHTTPClient(newHTTPClient(cfg.Concurrency)),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, fmt.Errorf("s3: bucket %q: no region: set region in the config or AWS_REGION", cfg.Bucket)
		}
		awsCfg.Region = "us-east-1"
	}
	s.cfg.Region = awsCfg.Region
	s.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// A library must not log: the SDK would warn on every Get of a
		// multipart object that its composite checksum is not validated.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	// A one-key listing rather than HeadBucket: HEAD answers carry no error
	// code, so "bad key" and "no bucket" would look alike (versitygw answers
	// HeadBucket with an unknown access key with a bare 404).
	if _, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket: &cfg.Bucket, Prefix: aws.String(cfg.Prefix), MaxKeys: aws.Int32(1),
	}); err != nil {
		return nil, s.fail("open", "", err)
	}
	return s, nil
}

// newRetryer is the SDK's standard retryer with more attempts and longer
// back-off than its defaults (3 attempts, 20 s), because a backup daemon
// would rather wait out a store's bad minute than fail a run, and without the
// client-side retry quota that turns a burst of errors into instant failures.
func newRetryer(maxRetries int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = max(maxRetries, 0) + 1
		o.MaxBackoff = 20 * time.Second
		o.BaseDelay = 200 * time.Millisecond
		o.RateLimiter = ratelimit.None
	})
}

// newHTTPClient bounds connecting and waiting for response headers (a hung
// store must not hang a backup forever) and keeps enough idle connections
// for concurrent parts of several Puts.
func newHTTPClient(concurrency int) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 15 * time.Second }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = 15 * time.Second
			// Generous: completing a multipart upload of many GB can take
			// a store a while before it answers.
			tr.ResponseHeaderTimeout = 5 * time.Minute
			tr.MaxIdleConnsPerHost = max(4*concurrency, 32)
		})
}

// String names the sink for messages ("s3:bucket/prefix/").
func (s *Sink) String() string { return s.where }

// objectKey maps a sink key to the bucket's key.
func (s *Sink) objectKey(key string) string { return s.cfg.Prefix + key }

// Get opens the object for reading. The body streams from the store; close it.
func (s *Sink) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := sinks.ValidKey(key); err != nil {
		return nil, fmt.Errorf("s3: get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))})
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return out.Body, nil
}

// Stat returns the object's size and modification time.
func (s *Sink) Stat(ctx context.Context, key string) (sinks.ObjectInfo, error) {
	if err := sinks.ValidKey(key); err != nil {
		return sinks.ObjectInfo{}, fmt.Errorf("s3: stat: %w", err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))})
	if err != nil {
		return sinks.ObjectInfo{}, s.fail("stat", key, err)
	}
	return sinks.ObjectInfo{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}, nil
}

// exists reports whether key is present (the fallback for stores without
// conditional writes).
func (s *Sink) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	if errors.Is(err, sinks.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// List calls fn for every key with prefix, in lexical (UTF-8 byte) order, one
// ListObjectsV2 page (up to 1000 keys) at a time.
func (s *Sink) List(ctx context.Context, prefix string, fn func(sinks.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: list %q: %w", prefix, err)
	}
	// A prefix whose directory part cannot occur in a valid key matches
	// nothing; not sending it keeps "../" and friends away from the store.
	if dir, _ := path.Split(prefix); dir != "" && sinks.ValidKey(strings.TrimSuffix(dir, "/")) != nil {
		return nil
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.cfg.Bucket,
		Prefix: aws.String(s.objectKey(prefix)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list", prefix, err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.cfg.Prefix)
			if !ok || sinks.ValidKey(key) != nil {
				continue // directory markers ("a/") and keys not written by Put
			}
			if err := fn(sinks.ObjectInfo{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return fmt.Errorf("s3: list %q: %w", prefix, err)
			}
		}
	}
	return nil
}

// Delete removes the object; a missing key is not an error. On a versioned
// bucket this adds a delete marker and the data stays until a lifecycle rule
// or an operator removes old versions.
func (s *Sink) Delete(ctx context.Context, key string) error {
	if err := sinks.ValidKey(key); err != nil {
		return fmt.Errorf("s3: delete: %w", err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))})
	if err != nil {
		if err = s.fail("delete", key, err); errors.Is(err, sinks.ErrNotExist) {
			return nil
		}
		return err
	}
	return nil
}
