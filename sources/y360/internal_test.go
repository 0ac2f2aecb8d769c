package y360

import (
	"net/http"
	"testing"
	"time"
)

// The OAuth error codes Yandex uses are undocumented: the classifier must
// understand the emulator's wording and plausible real variants.
func TestClassifyExchange(t *testing.T) {
	cases := []struct {
		e    APIError
		want exchangeCause
	}{
		{APIError{Status: 400, Name: "invalid_client", Description: "Client not found"}, causeBadClient},
		{APIError{Status: 401, Name: "invalid_client", Description: "Wrong client secret"}, causeBadClient},
		{APIError{Status: 400, Name: "unauthorized_client", Description: "Service applications feature is not active for the organization"}, causeFeatureInactive},
		{APIError{Status: 400, Name: "invalid_request", Description: "feature is not active"}, causeFeatureInactive},
		{APIError{Status: 400, Name: "unauthorized_client", Description: "Client is not a service application of the organization"}, causeNotServiceApp},
		{APIError{Status: 400, Name: "invalid_grant", Description: "token exchange not allowed for this client"}, causeNotServiceApp},
		{APIError{Status: 400, Name: "invalid_scope", Description: "Requested scope is not granted to the service application"}, causeScope},
		{APIError{Status: 400, Name: "invalid_request", Description: "scope mail:imap_full is not allowed"}, causeScope},
		{APIError{Status: 400, Name: "invalid_grant", Description: "User is blocked"}, causeBlocked},
		{APIError{Status: 400, Name: "invalid_grant", Description: "user disabled"}, causeBlocked},
		{APIError{Status: 400, Name: "invalid_grant", Description: "User not found"}, causeUnknownUser},
		{APIError{Status: 400, Name: "invalid_request", Description: "invalid subject_token"}, causeUnknownUser},
		{APIError{Status: 404, Message: "no such user"}, causeUnknownUser},
		{APIError{Status: 500, Name: "server_error"}, causeOther},
		{APIError{Status: 429}, causeOther},
	}
	for _, tc := range cases {
		if got := classifyExchange(&tc.e); got != tc.want {
			t.Errorf("%+v → %d, want %d", tc.e, got, tc.want)
		}
		if (hintFor(tc.want) == "") != (tc.want == causeOther) {
			t.Errorf("cause %d: hint %q", tc.want, hintFor(tc.want))
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":         0,
		"0":        0,
		"3":        3 * time.Second,
		"0.25":     250 * time.Millisecond,
		"-1":       0,
		"NaN":      0,
		"1e9":      0,
		"tomorrow": 0,
		now.Add(42 * time.Second).Format(http.TimeFormat):  42 * time.Second,
		now.Add(-42 * time.Second).Format(http.TimeFormat): 0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q → %v, want %v", in, got, want)
		}
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newBucket(4, t0) // burst 4
	var waits []time.Duration
	for i := 0; i < 6; i++ {
		waits = append(waits, b.reserve(t0))
	}
	want := []time.Duration{0, 0, 0, 0, 250 * time.Millisecond, 500 * time.Millisecond}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	// One second later the debt (2 tokens) is repaid and 2 are back.
	if w := b.reserve(t0.Add(time.Second)); w != 0 {
		t.Errorf("after refill: %v", w)
	}
	b.pause(t0.Add(5 * time.Second))
	if w := b.reserve(t0.Add(2 * time.Second)); w != 3*time.Second {
		t.Errorf("paused bucket: %v", w)
	}
	unlimited := newBucket(0, t0)
	for i := 0; i < 100; i++ {
		if w := unlimited.reserve(t0); w != 0 {
			t.Fatalf("unlimited bucket waits %v", w)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	d := NewDoer(nil, 0, 5, WithBackoff(100*time.Millisecond, time.Second))
	for attempt, base := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		base *= time.Millisecond
		for i := 0; i < 50; i++ {
			w := d.backoff(attempt)
			if w < base/2 || w > base {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, w, base/2, base)
			}
		}
	}
}
