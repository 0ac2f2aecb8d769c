package lease

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/internal/testpeer"
	"github.com/y360backup/y360backup/sinks"
	s3sink "github.com/y360backup/y360backup/sinks/s3"
)

// testS3Sink opens a fresh bucket on the test S3 server (versitygw from
// scripts/peers-up.sh), skipping when none is configured unless
// Y360_TEST_REQUIRE_PEERS=1. It fails on a store without conditional writes:
// leases are unsafe there.
func testS3Sink(t *testing.T) sinks.Sink {
	endpoint := testpeer.Env(t, "Y360_TEST_S3_ENDPOINT")
	access, secret := os.Getenv("Y360_TEST_S3_ACCESS_KEY"), os.Getenv("Y360_TEST_S3_SECRET_KEY")
	bucket := "y360-lease-test-" + randomHex(6)
	ctx := context.Background()
	client := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	cfg := s3sink.NewConfig()
	cfg.Bucket, cfg.Prefix, cfg.Endpoint, cfg.PathStyle, cfg.Region = bucket, "repo", endpoint, true, "us-east-1"
	cfg.AccessKey, cfg.SecretKey = access, secret
	s, err := s3sink.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.List(ctx, "", func(oi sinks.ObjectInfo) error { return s.Delete(ctx, oi.Key) })
		client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket})
	})
	res, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ConditionalWrites {
		t.Fatalf("%s ignores If-None-Match: leases cannot be safe on it", s)
	}
	return s
}

func TestS3Contention(t *testing.T) {
	t.Parallel() // long TTLs: load cannot change the outcome, only the time
	s := testS3Sink(t)
	t.Run("one name", func(t *testing.T) {
		raceRounds(t, s, []string{"u/1/mail"}, 8, 50, slowOpts(""))
	})
	t.Run("four names", func(t *testing.T) {
		raceRounds(t, s, []string{"u/2/mail", "u/2/disk", "u/3/mail", "u/3/calendar"}, 8, 20, slowOpts(""))
	})
}

// On S3 the ModTime comes from the store's clock, at the store's resolution
// (often whole seconds): a crashed holder is still taken over after about
// the TTL, and a refreshing one is not.
func TestS3Expiry(t *testing.T) {
	s := testS3Sink(t)
	ctx := context.Background()
	o := Options{TTL: 3 * time.Second, Refresh: 600 * time.Millisecond, Owner: "a"}
	a, err := Acquire(ctx, s, "u/1/mail", o)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := List(ctx, s)
	if err != nil || len(infos) != 1 {
		t.Fatalf("List = %v, %v", infos, err)
	}
	t.Logf("claim ModTime %s, local clock %s", infos[0].LastHeartbeat.Format(time.RFC3339Nano), time.Now().Format(time.RFC3339Nano))
	time.Sleep(o.TTL + o.Refresh) // refreshed: still held
	if _, err := Acquire(ctx, s, "u/1/mail", Options{TTL: o.TTL, Refresh: o.Refresh, Owner: "b"}); !errors.Is(err, ErrHeld) {
		t.Fatalf("refreshing holder lost its lease: %v", err)
	}
	a.halt() // crash
	crashed := time.Now()
	for {
		b, err := Acquire(ctx, s, "u/1/mail", Options{TTL: o.TTL, Refresh: o.Refresh, Owner: "b"})
		if err == nil {
			took := time.Since(crashed)
			t.Logf("taken over %s after the crash", took)
			// Up to one refresh plus one second of ModTime truncation early.
			if took < o.TTL-o.Refresh-time.Second || took > o.TTL+o.Refresh {
				t.Errorf("taken over %s after the crash, want about the TTL %s", took, o.TTL)
			}
			mustRelease(t, b)
			return
		}
		if !errors.Is(err, ErrHeld) || time.Since(crashed) > 3*o.TTL {
			t.Fatalf("after %s: %v", time.Since(crashed), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
