package y360emu

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestThrottleNextN(t *testing.T) {
	s, _ := testServer(t, nil)
	s.Throttle("/directory/", "3", 2)
	u := usersURL(s, DemoOrgID, "")
	for i, want := range []int{429, 429, 200, 200} {
		r := call(t, "GET", u, "OAuth "+DemoAdminToken, nil, "")
		if r.status != want {
			t.Fatalf("request %d: %d, want %d", i+1, r.status, want)
		}
		if want == 429 {
			if r.header.Get("Retry-After") != "3" || r.body["code"] != float64(8) {
				t.Errorf("429 answer: RA=%q %s", r.header.Get("Retry-After"), r.raw)
			}
		}
	}
	// Other paths untouched, every request counted (faulted ones too).
	if r := call(t, "GET", s.URL()+"/whoami", "OAuth "+DemoAdminToken, nil, ""); r.status != 200 {
		t.Errorf("whoami: %d", r.status)
	}
	if n := s.Count("/directory/"); n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	if n := s.Counts()["/whoami"]; n != 1 {
		t.Errorf("Counts[/whoami] = %d", n)
	}
}

func TestThrottleEveryNthWithoutRetryAfter(t *testing.T) {
	s, _ := testServer(t, nil)
	id := s.ThrottleEvery("/whoami", "", 3)
	var got []int
	for i := 0; i < 7; i++ {
		r := call(t, "GET", s.URL()+"/whoami", "OAuth "+DemoAdminToken, nil, "")
		got = append(got, r.status)
		if r.status == 429 && r.header.Get("Retry-After") != "" {
			t.Errorf("unexpected Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	want := []int{200, 200, 429, 200, 200, 429, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	s.RemoveFault(id)
	for i := 0; i < 3; i++ {
		if r := call(t, "GET", s.URL()+"/whoami", "OAuth "+DemoAdminToken, nil, ""); r.status != 200 {
			t.Fatalf("after RemoveFault: %d", r.status)
		}
	}
}

func TestFaultStyles(t *testing.T) {
	s, _ := testServer(t, nil)
	cases := []struct {
		path, method string
		status       int
		check        func(reply) bool
	}{
		{"/token", "POST", 503, func(r reply) bool { return str(r.body, "error") == "temporarily_unavailable" }},
		{"/token", "POST", 429, func(r reply) bool { return str(r.body, "error") == "too_many_requests" }},
		{"/v1/disk/resources", "GET", 429, func(r reply) bool {
			return str(r.body, "error") == "TooManyRequests" && str(r.body, "description") != ""
		}},
		{"/v1/disk", "GET", 500, func(r reply) bool { return str(r.body, "error") == "InternalServerError" }},
		{"/directory/v1/org/1/users", "GET", 503, func(r reply) bool { return r.body["code"] == float64(14) }},
		{"/whoami", "GET", 500, func(r reply) bool { return r.body["code"] == float64(13) }},
	}
	for _, tc := range cases {
		s.FailNext(tc.path, tc.status, 1)
		r := call(t, tc.method, s.URL()+tc.path, "", nil, "")
		if r.status != tc.status || !tc.check(r) {
			t.Errorf("%s %d: got %d %s", tc.path, tc.status, r.status, r.raw)
		}
	}
	s.setErrorStyle("/upload/", styleDisk)
	s.FailNext("/upload/x", 507, 1)
	if r := call(t, "PUT", s.URL()+"/upload/x", "", nil, ""); r.status != 507 || str(r.body, "error") != "InsufficientStorage" {
		t.Errorf("custom style: %d %s", r.status, r.raw)
	}
}

func TestFaultMethodLatencyDrop(t *testing.T) {
	s, _ := testServer(t, nil)
	// Method filter: only POSTs to /token fail.
	s.AddFault(Fault{PathPrefix: "/introspect", Method: "POST", Status: 502, Next: 1})
	if r := call(t, "GET", s.IntrospectURL(), "", nil, ""); r.status != 401 {
		t.Errorf("GET should pass the POST-only fault: %d", r.status)
	}
	if r := call(t, "POST", s.IntrospectURL(), "", nil, ""); r.status != 502 {
		t.Errorf("POST: %d", r.status)
	}

	id := s.Slow("/healthz", 150*time.Millisecond)
	start := time.Now()
	if r := call(t, "GET", s.URL()+"/healthz", "", nil, ""); r.status != 200 || r.raw != "ok\n" {
		t.Errorf("healthz: %d %q", r.status, r.raw)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("latency %v < 150ms", el)
	}
	s.RemoveFault(id)

	s.AddFault(Fault{PathPrefix: "/healthz", Drop: true, Next: 1})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Get(s.URL() + "/healthz"); err == nil {
		t.Error("dropped request succeeded")
	}
	if r := call(t, "GET", s.URL()+"/healthz", "", nil, ""); r.status != 200 {
		t.Errorf("after drop: %d", r.status)
	}

	// ClearFaults removes everything, Hits logs requests in order.
	s.ThrottleEvery("/", "", 1)
	s.ClearFaults()
	s.ResetCounts()
	call(t, "GET", s.URL()+"/healthz", "", nil, "")
	call(t, "GET", s.URL()+"/whoami", "", nil, "")
	if h := s.Hits("/"); len(h) != 2 || h[0].Path != "/healthz" || h[1].Path != "/whoami" || h[1].Time.Before(h[0].Time) {
		t.Errorf("hits %+v", h)
	}
	if h := s.Hits("/who"); len(h) != 1 || h[0].Method != "GET" {
		t.Errorf("hits(/who) %+v", h)
	}
}

// Faults and counters are changed while requests are in flight (run with -race).
func TestFaultsConcurrent(t *testing.T) {
	s, _ := testServer(t, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				resp, err := http.Get(s.URL() + "/healthz")
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		id := s.ThrottleEvery("/healthz", "1", 2)
		s.SetTokenLifetime(time.Duration(i+1) * time.Second)
		_ = s.Count("/")
		s.RemoveFault(id)
	}
	wg.Wait()
	if n := s.Count("/healthz"); n != 200 {
		t.Errorf("counted %d of 200", n)
	}
}

func TestListenAndServe(t *testing.T) {
	s := New(DefaultOrg())
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe(ctx, "127.0.0.1:0") }()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after ctx cancel")
	}
	if err := s.ListenAndServe(context.Background(), "bad address"); err == nil {
		t.Error("bad address accepted")
	}
}

func TestDefaultOrg(t *testing.T) {
	o := DefaultOrg()
	var enabled, blocked, robots int
	for _, u := range o.Users {
		switch {
		case u.Robot:
			robots++
		case u.Blocked:
			blocked++
		default:
			enabled++
		}
	}
	if enabled < 5 || blocked != 1 || robots != 1 {
		t.Errorf("enabled=%d blocked=%d robots=%d", enabled, blocked, robots)
	}
	s := New(o)
	if u, ok := s.User("alice@demo.y360.test"); !ok || u.ID != aliceID {
		t.Errorf("alice: %+v %v", u, ok)
	}
	t.Setenv(EnvKey, "from-env")
	a, b := New(Options{}), New(Options{Key: []byte("from-env")})
	if _, ok := b.ValidateToken(a.MintToken("x@y.test")); !ok {
		t.Error("key from env not used")
	}
	t.Setenv(EnvKey, "")
	c, d := New(Options{}), New(Options{Key: []byte(DefaultKey)})
	if _, ok := d.ValidateToken(c.MintToken("x@y.test")); !ok {
		t.Error("default key not used")
	}
}
