package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/y360backup/y360backup/internal/testpeer/s3peer"
	"github.com/y360backup/y360backup/sinks"
)

// testS3Sink opens a fresh bucket on the test S3 server (versitygw from
// scripts/peers-up.sh), skipping when none is configured unless
// Y360_TEST_REQUIRE_PEERS=1. It fails on a store without conditional writes:
// leases are unsafe there.
func testS3Sink(t *testing.T) sinks.Sink {
	s, _ := s3peer.Sink(t, "y360-lease-test-")
	res, err := s.Check(context.Background())
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
