package s3_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/y360backup/y360backup/internal/testpeer"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/sinks/s3"
)

// server is the S3 endpoint under test and its root credentials.
type server struct{ endpoint, access, secret string }

// testServer returns the server named by the Y360_TEST_S3_* variables, or
// skips (fails, with Y360_TEST_REQUIRE_PEERS=1) when there is none.
func testServer(t testing.TB) server {
	t.Helper()
	srv := server{os.Getenv("Y360_TEST_S3_ENDPOINT"), os.Getenv("Y360_TEST_S3_ACCESS_KEY"), os.Getenv("Y360_TEST_S3_SECRET_KEY")}
	if srv.endpoint == "" || srv.access == "" {
		testpeer.Missing(t, "no S3 server: Y360_TEST_S3_ENDPOINT, Y360_TEST_S3_ACCESS_KEY, Y360_TEST_S3_SECRET_KEY are not all set")
	}
	return srv
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// config returns a sink config for bucket on srv, tuned small so that the
// suite's medium objects take the multipart path.
func (srv server) config(bucket, prefix string) s3.Config {
	cfg := s3.NewConfig()
	cfg.Bucket, cfg.Prefix = bucket, prefix
	cfg.Endpoint, cfg.PathStyle = srv.endpoint, true
	cfg.AccessKey, cfg.SecretKey = srv.access, srv.secret
	cfg.PartSize, cfg.Concurrency = 5<<20, 2
	return cfg
}

// newBucket creates a bucket with a unique name and removes it, with every
// object and unfinished upload in it, when the test ends.
func (srv server) newBucket(t testing.TB) string {
	t.Helper()
	bucket := "y360-test-" + randHex(6)
	c := srv.client()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { srv.removeBucket(t, bucket) })
	return bucket
}

func (srv server) client() *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.endpoint),
		UsePathStyle: true,
		Credentials:  aws.NewCredentialsCache(staticCreds{srv.access, srv.secret}),
	})
}

type staticCreds struct{ id, secret string }

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, Source: "test"}, nil
}

func (srv server) removeBucket(t testing.TB, bucket string) {
	c := srv.client()
	ctx := context.Background()
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Logf("cleanup: list %s: %v", bucket, err)
			return
		}
		for _, o := range page.Contents {
			c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: o.Key})
		}
	}
	if ups, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket}); err == nil {
		for _, u := range ups.Uploads {
			c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Logf("cleanup: delete bucket %s: %v", bucket, err)
	}
}
