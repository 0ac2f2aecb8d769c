// Package s3peer gives tests a fresh bucket on the test S3 server
// (versitygw in CI, started by scripts/peers-up.sh).
package s3peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/internal/testpeer"
	"github.com/y360backup/y360backup/sinks"
	s3sink "github.com/y360backup/y360backup/sinks/s3"
)

// Sink creates a bucket named prefix + random hex on the test S3 server and
// opens a sink on it (key prefix "repo"); the bucket is emptied and removed
// when the test ends. Without a server the test is skipped, or fails when
// Y360_TEST_REQUIRE_PEERS=1. It returns the bucket's name too.
func Sink(t testing.TB, prefix string) (*s3sink.Sink, string) {
	t.Helper()
	endpoint := testpeer.Env(t, "Y360_TEST_S3_ENDPOINT")
	access, secret := os.Getenv("Y360_TEST_S3_ACCESS_KEY"), os.Getenv("Y360_TEST_S3_SECRET_KEY")
	var b [6]byte
	rand.Read(b[:])
	bucket := prefix + hex.EncodeToString(b[:])
	ctx := context.Background()
	client := awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket on %s: %v", endpoint, err)
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
	return s, bucket
}
