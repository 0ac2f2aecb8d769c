package s3_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/y360backup/y360backup/sinks/s3"
)

// fakeStore answers every request with status and an S3 XML error code,
// after failing the first `flaky` requests with 503 SlowDown.
func fakeStore(t *testing.T, status int, code string, header map[string]string, flaky int32) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		if n <= flaky {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		if status == http.StatusOK { // an empty listing
			fmt.Fprint(w, `<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
			return
		}
		fmt.Fprintf(w, `<Error><Code>%s</Code><Message>test message</Message></Error>`, code)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestErrorKinds checks that the store's error codes turn into our error
// kinds with a message that names the bucket and what to check.
func TestErrorKinds(t *testing.T) {
	cases := []struct {
		status int
		code   string
		header map[string]string
		want   error
		hint   string
	}{
		{404, "NoSuchBucket", nil, s3.ErrBucketNotFound, "create it"},
		{403, "AccessDenied", nil, s3.ErrAccessDenied, "s3:ListBucket"},
		{403, "InvalidAccessKeyId", nil, s3.ErrBadCredentials, "access_key"},
		{403, "SignatureDoesNotMatch", nil, s3.ErrBadCredentials, "secret_key"},
		{400, "ExpiredToken", nil, s3.ErrBadCredentials, "session token"},
		{403, "RequestTimeTooSkewed", nil, s3.ErrClockSkew, "NTP"},
		{400, "AuthorizationHeaderMalformed", nil, s3.ErrWrongRegion, "region"},
		{301, "PermanentRedirect", map[string]string{"X-Amz-Bucket-Region": "eu-west-2"}, s3.ErrWrongRegion, `"eu-west-2"`},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			srv, _ := fakeStore(t, c.status, c.code, c.header, 0)
			cfg := s3.NewConfig()
			cfg.Bucket, cfg.Endpoint, cfg.PathStyle = "my-backups", srv.URL, true
			cfg.AccessKey, cfg.SecretKey, cfg.MaxRetries = "AK", "SK", -1
			_, err := s3.Open(context.Background(), cfg)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, want %v", err, c.want)
			}
			for _, s := range []string{`"my-backups"`, c.hint} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

// TestRetrySlowDown: 503 SlowDown is retried with back-off until it passes,
// and MaxRetries bounds the attempts.
func TestRetrySlowDown(t *testing.T) {
	srv, calls := fakeStore(t, 200, "", nil, 3)
	cfg := s3.NewConfig()
	cfg.Bucket, cfg.Endpoint, cfg.PathStyle, cfg.AccessKey, cfg.SecretKey = "b-1", srv.URL, true, "AK", "SK"
	cfg.MaxRetries = 3
	if _, err := s3.Open(context.Background(), cfg); err != nil {
		t.Fatalf("Open after 3 SlowDowns with MaxRetries 3: %v", err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	srv2, calls2 := fakeStore(t, 200, "", nil, 100)
	cfg.Endpoint, cfg.MaxRetries = srv2.URL, 2
	if _, err := s3.Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "SlowDown") {
		t.Errorf("Open against a store that always says SlowDown = %v", err)
	}
	if n := calls2.Load(); n != 3 {
		t.Errorf("%d requests with MaxRetries 2, want 3", n)
	}
}
