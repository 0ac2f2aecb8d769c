package backup

import (
	"testing"

	"github.com/y360backup/y360backup/internal/testpeer/s3peer"
	"github.com/y360backup/y360backup/sinks"
)

// testS3Sink opens a fresh bucket on the test S3 server (versitygw in CI),
// skipping when none is configured unless Y360_TEST_REQUIRE_PEERS=1.
func testS3Sink(t *testing.T) sinks.Sink {
	s, _ := s3peer.Sink(t, "y360-backup-test-")
	return s
}
