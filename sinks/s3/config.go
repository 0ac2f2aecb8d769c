package s3

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/y360backup/y360backup/sinks"
)

// Config configures an S3 sink. The zero value plus a Bucket is usable:
// unset numbers take the defaults NewConfig spells out.
type Config struct {
	Bucket string `yaml:"bucket"`
	// Prefix is prepended to every key ("org1/" stores repo.json as
	// "org1/repo.json"); a missing trailing slash is added.
	Prefix string `yaml:"prefix"`
	// Region of the bucket. Empty: the SDK's default (AWS_REGION, shared
	// config), or "us-east-1" when Endpoint is set (most S3-compatible stores
	// accept any region; Yandex Object Storage wants "ru-central1").
	Region string `yaml:"region"`
	// Endpoint is the URL of an S3-compatible store
	// ("https://storage.yandexcloud.net"); empty means AWS.
	Endpoint string `yaml:"endpoint"`
	// PathStyle addresses buckets as ENDPOINT/BUCKET rather than
	// BUCKET.ENDPOINT; most self-hosted stores need it.
	PathStyle bool `yaml:"path_style"`
	// AccessKey, SecretKey and SessionToken are static credentials. Leave
	// AccessKey empty to use the SDK's default chain: environment, shared
	// profile, web identity, then the instance metadata service.
	AccessKey    string `yaml:"access_key"`
	SecretKey    string `yaml:"secret_key"`
	SessionToken string `yaml:"session_token"`
	// PartSize is the multipart part size and the largest object sent in a
	// single PUT. Memory per Put is about PartSize × Concurrency.
	PartSize int64 `yaml:"part_size"`
	// Concurrency is the number of parts of one object uploaded at once.
	Concurrency int `yaml:"concurrency"`
	// SSE is the server-side encryption: "" (the bucket's default),
	// "AES256" (SSE-S3) or "aws:kms" (SSE-KMS, with SSEKMSKeyID or the
	// account's default key).
	SSE         string `yaml:"sse"`
	SSEKMSKeyID string `yaml:"sse_kms_key_id"`
	// StorageClass for new objects ("STANDARD", "STANDARD_IA", "COLD", ...);
	// empty means the bucket's default.
	StorageClass string `yaml:"storage_class"`
	// MaxRetries is how often a failed request (5xx, SlowDown, timeouts,
	// dropped connections) is retried with exponential back-off. 0 means the
	// default; a negative value disables retries.
	MaxRetries int `yaml:"max_retries"`
}

// Defaults applied to zero fields.
const (
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
	DefaultMaxRetries  = 10
	minPartSize        = 5 << 20 // S3's minimum for every part but the last
	maxPartSize        = 5 << 30
	maxParts           = 10000
)

// NewConfig returns a Config with the defaults filled in.
func NewConfig() Config {
	return Config{PartSize: DefaultPartSize, Concurrency: DefaultConcurrency, MaxRetries: DefaultMaxRetries}
}

// withDefaults fills zero fields and normalizes Prefix.
func (c Config) withDefaults() Config {
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	return c
}

// Validate reports every problem in the configuration at once. It does not
// contact the store; Open does.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	} else if len(c.Bucket) < 3 || len(c.Bucket) > 63 || strings.ContainsAny(c.Bucket, "/\\ ") {
		errs = append(errs, fmt.Errorf("bucket %q: must be 3-63 characters without slashes or spaces", c.Bucket))
	}
	if c.Prefix != "" {
		if err := sinks.ValidKey(strings.TrimSuffix(c.Prefix, "/")); err != nil {
			errs = append(errs, fmt.Errorf("prefix %q: %w", c.Prefix, err))
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q: want a URL like https://storage.example.net", c.Endpoint))
		}
	}
	if c.AccessKey != "" && c.SecretKey == "" {
		errs = append(errs, errors.New("access_key is set but secret_key is empty"))
	}
	if c.AccessKey == "" && (c.SecretKey != "" || c.SessionToken != "") {
		errs = append(errs, errors.New("secret_key or session_token is set but access_key is empty"))
	}
	if c.PartSize < minPartSize || c.PartSize > maxPartSize {
		errs = append(errs, fmt.Errorf("part_size %d: must be between 5 MiB and 5 GiB", c.PartSize))
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be between 1 and 64", c.Concurrency))
	}
	switch c.SSE {
	case "", "AES256":
		if c.SSEKMSKeyID != "" {
			errs = append(errs, errors.New(`sse_kms_key_id needs sse: "aws:kms"`))
		}
	case "aws:kms":
	default:
		errs = append(errs, fmt.Errorf(`sse %q: want "", "AES256" or "aws:kms"`, c.SSE))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3 config: %w", err)
	}
	return nil
}
