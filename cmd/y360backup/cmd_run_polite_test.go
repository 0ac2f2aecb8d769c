package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/config"
	"github.com/y360backup/y360backup/backup/daemon"
	"github.com/y360backup/y360backup/backup/metrics"
	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/internal/y360emu"
)

// arrivals records request times at a server, and which were throttled.
type arrivals struct {
	mu        sync.Mutex
	all       []time.Time
	throttled []time.Time
}

func (a *arrivals) add(t time.Time, throttled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, t)
	if throttled {
		a.throttled = append(a.throttled, t)
	}
}

// peak is the most requests seen in any window of length w.
func peak(ts []time.Time, w time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// storm answers every nth request with 429 and Retry-After: 1.
func storm(rec *arrivals, every int) func(http.Handler) http.Handler {
	var mu sync.Mutex
	n := 0
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			throttle := n%every == 0
			mu.Unlock()
			rec.add(time.Now(), throttle)
			if throttle {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func loadPlan(t *testing.T, file string, log *zap.Logger, m *metrics.Metrics) (*config.Config, *daemon.Plan) {
	t.Helper()
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := buildPlan(context.Background(), cfg, politeTransport(cfg, m), log, m)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, plan
}

// TestPolitenessUnder429Storm: with CalDAV answering every fifth request
// 429 + Retry-After: 1, and the emulator throttling every second token
// exchange and Disk API request the same way, a run slows down, finishes with every user backed up, and
// the measured CalDAV request rate stays under rate_limits.caldav_rps. After
// each 429 the whole host pauses: only requests already in flight (at most
// one per other worker) may still arrive during the pause.
func TestPolitenessUnder429Storm(t *testing.T) {
	w := newWorld(t, y360emu.DefaultOrg())
	var cal arrivals
	w.wrapCalDAV(storm(&cal, 5))
	w.emu.ThrottleEvery("/token", "1", 2)
	w.emu.ThrottleEvery("/v1/disk", "1", 2)
	const rps, workers = 8, 2
	file := w.config(fmt.Sprintf(`users: {include: ["alice@*", "bob@*"]}
concurrency: %d
rate_limits: {caldav_rps: %d, token_exchanges_per_hour: 3600}
`, workers, rps))
	m := metrics.New(metrics.Options{})
	_, plan := loadPlan(t, file, zap.NewNop(), m)

	start := time.Now()
	snap, err := plan.Run(context.Background(), plan.Jobs[0])
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status != backup.StatusOK || snap.UsersOK != 2 {
		for _, u := range snap.Users {
			t.Logf("%s: %s %s", u.Email, u.Status, u.Error)
		}
		t.Fatalf("run under a 429 storm: %s, %d users ok; want ok, 2", snap.Status, snap.UsersOK)
	}
	cal.mu.Lock()
	all, thr := append([]time.Time(nil), cal.all...), append([]time.Time(nil), cal.throttled...)
	cal.mu.Unlock()
	if len(thr) < 3 {
		t.Fatalf("only %d CalDAV requests were throttled; the storm did not happen", len(thr))
	}
	if took < time.Duration(len(thr)-1)*time.Second/2 {
		t.Errorf("the run took %s despite %d Retry-After: 1 answers: it did not slow down", took, len(thr))
	}
	// Host-wide pause: after a 429 only requests already in flight arrive.
	worst := 0
	for _, t429 := range thr {
		n := 0
		for _, a := range all {
			if a.After(t429) && a.Sub(t429) < 900*time.Millisecond {
				n++
			}
		}
		worst = max(worst, n)
	}
	if worst > workers-1 {
		t.Errorf("%d requests arrived within 0.9 s of a 429 with Retry-After: 1; at most %d may be in flight", worst, workers-1)
	}
	// CalDAV's bucket has burst 1: requests are spaced at least 1/rps apart.
	span := all[len(all)-1].Sub(all[0]).Seconds()
	avg := float64(len(all)-1) / span
	p1 := peak(all, time.Second)
	if avg > rps || p1 > rps+2 { // +2: scheduling jitter on a loaded machine
		t.Errorf("CalDAV: %d requests in %.1f s (%.2f req/s), %d in the busiest second; limit %d/s",
			len(all), span, avg, p1, rps)
	}
	if n := counter(t, m, "y360backup_http_throttled_total", "/token"); n < 1 {
		t.Errorf("no throttled token exchange was seen (%v); the storm missed the OAuth endpoint", n)
	}
	tokens := w.emu.Hits("/token")
	var tts []time.Time
	for _, h := range tokens {
		tts = append(tts, h.Time)
	}
	t.Logf("429 storm: run took %s; CalDAV %d requests (%d answered 429), %.2f req/s average, peak %d in 1 s (limit %d/s), "+
		"at most %d arrivals during a pause; token exchange %d requests, peak %d in 1 s; Disk API %d requests",
		took.Round(time.Millisecond), len(all), len(thr), avg, p1, rps, worst, len(tokens), peak(tts, time.Second), w.emu.Count("/v1/disk"))
}

// TestShortTokenLifetime: tokens that live 2 s while one user's backup takes
// several seconds are re-minted mid-run (and after a 401), and the run ends ok.
func TestShortTokenLifetime(t *testing.T) {
	opts := y360emu.DefaultOrg()
	opts.TokenLifetime = 2 * time.Second
	w := newWorld(t, opts)
	if err := caldavdemo.SeedBulk(w.cal, "alice@"+y360emu.DemoDomain, "events-bulk", 200); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 8; i++ {
		if err := w.emu.DiskPutFile("alice@"+y360emu.DemoDomain, fmt.Sprintf("/Work/file%02d.txt", i), []byte(strings.Repeat("x", 1000+i)), mtime); err != nil {
			t.Fatal(err)
		}
	}
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			time.Sleep(200 * time.Millisecond)
			next.ServeHTTP(rw, r)
		})
	}
	w.wrapCalDAV(slow)
	w.emu.Slow("/v1/disk", 200*time.Millisecond)
	file := w.config(`users: {include: ["alice@*"]}
concurrency: 1
`)
	_, plan := loadPlan(t, file, zap.NewNop(), metrics.New(metrics.Options{}))
	start := time.Now()
	snap, err := plan.Run(context.Background(), plan.Jobs[0])
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Status != backup.StatusOK {
		for _, u := range snap.Users {
			t.Logf("%s: %s %s", u.Email, u.Status, u.Error)
		}
		t.Fatalf("status %s", snap.Status)
	}
	if took < 3*time.Second {
		t.Fatalf("the run took only %s; it must well outlive the 2 s token to prove anything", took)
	}
	mints := w.emu.Count("/token")
	if mints < 2 {
		t.Errorf("%d token exchanges in a %s run with 2 s tokens: the token was not renewed", mints, took)
	}
	if items := snap.Totals.Items; items < 200+8 {
		t.Errorf("%d items stored, want at least the 200 events and 8 files", items)
	}
	t.Logf("2 s tokens: run took %s, %d token exchanges, %d items", took.Round(time.Millisecond), mints, snap.Totals.Items)
}

// counter sums a metric's samples whose labels contain labelPart.
func counter(t *testing.T, m *metrics.Metrics, name, labelPart string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if strings.Contains(l.GetValue(), labelPart) {
					sum += s.GetCounter().GetValue()
					break
				}
			}
		}
	}
	return sum
}
