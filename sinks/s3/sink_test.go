package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/s3"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

func TestConfigValidate(t *testing.T) {
	ok := s3.NewConfig()
	ok.Bucket = "backups"
	cases := []struct {
		name    string
		edit    func(*s3.Config)
		wantErr string // "" = valid
	}{
		{"defaults", func(*s3.Config) {}, ""},
		{"zero numbers take defaults", func(c *s3.Config) { c.PartSize, c.Concurrency, c.MaxRetries = 0, 0, 0 }, ""},
		{"full", func(c *s3.Config) {
			c.Prefix, c.Endpoint, c.Region = "org1", "https://storage.yandexcloud.net", "ru-central1"
			c.AccessKey, c.SecretKey, c.SSE, c.SSEKMSKeyID = "AK", "SK", "aws:kms", "key-1"
		}, ""},
		{"no bucket", func(c *s3.Config) { c.Bucket = "" }, "bucket is required"},
		{"bucket with slash", func(c *s3.Config) { c.Bucket = "a/b" }, "3-63 characters"},
		{"bad prefix", func(c *s3.Config) { c.Prefix = "../x" }, "prefix"},
		{"bad endpoint", func(c *s3.Config) { c.Endpoint = "storage.example.net" }, "endpoint"},
		{"secret without key", func(c *s3.Config) { c.SecretKey = "s" }, "access_key is empty"},
		{"key without secret", func(c *s3.Config) { c.AccessKey = "a" }, "secret_key is empty"},
		{"small part", func(c *s3.Config) { c.PartSize = 1 << 20 }, "part_size"},
		{"bad concurrency", func(c *s3.Config) { c.Concurrency = -1 }, "concurrency"},
		{"bad sse", func(c *s3.Config) { c.SSE = "aws:kms:dsse" }, "sse"},
		{"kms key without kms", func(c *s3.Config) { c.SSE, c.SSEKMSKeyID = "AES256", "k" }, "sse_kms_key_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.edit(&cfg)
			err := cfg.Validate()
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, c.wantErr)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	cases := []struct {
		name   string
		edit   func(*s3.Config)
		want   error
		inText []string
	}{
		{"wrong secret", func(c *s3.Config) { c.SecretKey = "wrong" }, s3.ErrBadCredentials, []string{bucket, "secret_key"}},
		{"unknown access key", func(c *s3.Config) { c.AccessKey = "nosuchkey" }, s3.ErrBadCredentials, []string{bucket, "access_key"}},
		{"missing bucket", func(c *s3.Config) { c.Bucket = "y360-no-such-bucket" }, s3.ErrBucketNotFound, []string{"y360-no-such-bucket", "create it"}},
		{"wrong region", func(c *s3.Config) { c.Region = "eu-west-1" }, s3.ErrWrongRegion, []string{bucket, `"eu-west-1"`}},
		{"unreachable", func(c *s3.Config) { c.Endpoint = "http://127.0.0.1:1" }, s3.ErrUnreachable, []string{bucket, "127.0.0.1:1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := srv.config(bucket, "")
			cfg.MaxRetries = -1
			c.edit(&cfg)
			_, err := s3.Open(context.Background(), cfg)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, want %v", err, c.want)
			}
			for _, s := range c.inText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), srv.secret) {
				t.Errorf("error leaks the secret key: %q", err)
			}
		})
	}
}

func openSink(t *testing.T, cfg s3.Config) *s3.Sink {
	t.Helper()
	s, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestCheck(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	s := openSink(t, srv.config(bucket, "org1"))
	res, err := s.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !strings.HasPrefix(res.Probe, "locks/.probe-") {
		t.Errorf("probe key %q", res.Probe)
	}
	t.Logf("Check: conditional writes %v, %v", res.ConditionalWrites, res.Elapsed)
	if !res.ConditionalWrites {
		t.Errorf("versitygw honours If-None-Match, but Check says it does not")
	}
	var left []string
	s.List(context.Background(), "", func(oi sinks.ObjectInfo) error { left = append(left, oi.Key); return nil })
	if len(left) != 0 {
		t.Errorf("Check left %q behind", left)
	}
}

// TestPrefixIsolation: sinks on different prefixes of one bucket do not see
// each other, and keys are listed without the prefix.
func TestPrefixIsolation(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	a := openSink(t, srv.config(bucket, "org-a"))
	b := openSink(t, srv.config(bucket, "org-a-b/"))
	ctx := context.Background()
	for _, s := range []*s3.Sink{a, b} {
		if err := s.Put(ctx, "repo.json", strings.NewReader(s.String()), -1); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	a.List(ctx, "", func(oi sinks.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
	if !slices.Equal(keys, []string{"repo.json"}) {
		t.Errorf("a lists %q, want [repo.json]", keys)
	}
	out, err := srv.client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &bucket, Key: aws.String("org-a/repo.json")})
	if err != nil || aws.ToInt64(out.ContentLength) != int64(len(a.String())) {
		t.Errorf("org-a/repo.json in the bucket: %v", err)
	}
}

// TestAbortOnError: a multipart Put that fails leaves no upload behind.
func TestAbortOnError(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	s := openSink(t, srv.config(bucket, "p"))
	r := io.MultiReader(sinktest.NewDataReader(1, 12<<20), errAfter{})
	if err := s.Put(context.Background(), "big", r, -1); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	ups, err := srv.client().ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after a failed Put", len(ups.Uploads))
	}
}

type errAfter struct{}

func (errAfter) Read([]byte) (int, error) { return 0, errors.New("source broke") }

// TestNoConditionalWrites puts a proxy in front of the server that answers
// 501 NotImplemented to any If-None-Match, as stores without conditional
// writes do: the sink must notice once and fall back to HEAD-before-PUT.
func TestNoConditionalWrites(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	target, _ := url.Parse(srv.endpoint)
	var refused, conditional atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			conditional.Add(1)
			refused.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotImplemented)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented`+
				`</Code><Message>A header you provided implies functionality that is not implemented.</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	cfg := srv.config(bucket, "nc")
	cfg.Endpoint = proxy.URL
	s := openSink(t, cfg)
	ctx := context.Background()
	for i, size := range []int64{100, 7 << 20} { // single PUT, then multipart
		key := []string{"small", "medium"}[i]
		if err := s.Put(ctx, key, sinktest.NewDataReader(1, size), size); err != nil {
			t.Fatalf("Put(%s): %v", key, err)
		}
		if err := s.Put(ctx, key, bytes.NewReader([]byte("other")), 5); !errors.Is(err, sinks.ErrExist) {
			t.Errorf("second Put(%s) = %v, want ErrExist from the HEAD fallback", key, err)
		}
		rc, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(rc); int64(len(got)) != size {
			t.Errorf("%s: %d bytes after refused overwrite, want %d", key, len(got), size)
		}
		rc.Close()
	}
	if n := refused.Load(); n != 1 {
		t.Errorf("store saw %d conditional writes, want 1 (the capability is learned once)", n)
	}
	if res, err := s.Check(ctx); err != nil || res.ConditionalWrites {
		t.Errorf("Check = %+v, %v; want success without conditional writes", res, err)
	}
}

// TestGetAfterContextCancel: an already-cancelled ctx stops every operation.
func TestCancelledOps(t *testing.T) {
	srv := testServer(t)
	bucket := srv.newBucket(t)
	s := openSink(t, srv.config(bucket, ""))
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get = %v", err)
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stat = %v", err)
	}
	if err := s.Delete(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Delete = %v", err)
	}
}
