package y360emu

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is a runtime switch that makes matching requests slow or fail.
// A request matches when its path starts with PathPrefix ("" = all) and its
// method equals Method ("" = any). Among matching requests the fault fires on
// every Every-th one (0 or 1 = each), and only for the first Next firings
// (0 = forever); after Next firings it removes itself.
type Fault struct {
	PathPrefix string
	Method     string

	Status     int    // answer with this status (error body in the path's style); 0 = pass through
	RetryAfter string // Retry-After header sent with Status, verbatim ("2", an HTTP date); "" = none
	Drop       bool   // close the connection without answering (wins over Status)
	Latency    time.Duration

	Every int
	Next  int
}

// FaultID names an added fault for RemoveFault.
type FaultID int

type faultRule struct {
	id    FaultID
	f     Fault
	seen  int // matching requests so far
	fired int
}

// faultSet holds the active faults; its own lock keeps the request path cheap.
type faultSet struct {
	mu     sync.Mutex
	nextID FaultID
	rules  []*faultRule
}

// AddFault installs f and returns its id. Faults apply in the order added;
// latencies of all firing faults add up, the first firing Status/Drop wins.
func (s *Server) AddFault(f Fault) FaultID {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	fs.rules = append(fs.rules, &faultRule{id: fs.nextID, f: f})
	return fs.nextID
}

// RemoveFault uninstalls one fault (no-op if it already expired).
func (s *Server) RemoveFault(id FaultID) {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, r := range fs.rules {
		if r.id == id {
			fs.rules = append(fs.rules[:i], fs.rules[i+1:]...)
			return
		}
	}
}

// ClearFaults uninstalls every fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.rules = nil
	s.faults.mu.Unlock()
}

// Throttle answers the next n requests under prefix with 429 and the given
// Retry-After ("" = no header).
func (s *Server) Throttle(prefix, retryAfter string, n int) FaultID {
	return s.AddFault(Fault{PathPrefix: prefix, Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Next: n})
}

// ThrottleEvery answers every nth request under prefix with 429, until removed.
func (s *Server) ThrottleEvery(prefix, retryAfter string, every int) FaultID {
	return s.AddFault(Fault{PathPrefix: prefix, Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Every: every})
}

// FailNext answers the next n requests under prefix with status (e.g. 503).
func (s *Server) FailNext(prefix string, status, n int) FaultID {
	return s.AddFault(Fault{PathPrefix: prefix, Status: status, Next: n})
}

// Slow delays every request under prefix by d, until removed.
func (s *Server) Slow(prefix string, d time.Duration) FaultID {
	return s.AddFault(Fault{PathPrefix: prefix, Latency: d})
}

// match applies the faults to one request: total latency and the failing fault, if any.
func (fs *faultSet) match(method, path string) (time.Duration, *Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var (
		latency time.Duration
		fail    *Fault
		keep    = fs.rules[:0]
	)
	for _, r := range fs.rules {
		if strings.HasPrefix(path, r.f.PathPrefix) && (r.f.Method == "" || r.f.Method == method) {
			r.seen++
			if r.f.Every <= 1 || r.seen%r.f.Every == 0 {
				r.fired++
				latency += r.f.Latency
				if fail == nil && (r.f.Status != 0 || r.f.Drop) {
					f := r.f
					fail = &f
				}
			}
		}
		if r.f.Next == 0 || r.fired < r.f.Next {
			keep = append(keep, r)
		}
	}
	for i := len(keep); i < len(fs.rules); i++ {
		fs.rules[i] = nil
	}
	fs.rules = keep
	return latency, fail
}

// middleware counts every request, then applies the faults, then routes.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.stats.record(r.Method, r.URL.Path)
		latency, f := s.faults.match(r.Method, r.URL.Path)
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f != nil {
			if f.Drop {
				panic(http.ErrAbortHandler) // net/http closes the connection silently
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			s.writeStatusError(w, r.URL.Path, f.Status)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Hit is one request the emulator received (wall-clock time, for rate checks).
type Hit struct {
	Time   time.Time
	Method string
	Path   string
}

// maxHits bounds the request log.
const maxHits = 20000

type stats struct {
	mu     sync.Mutex
	counts map[string]int // by path
	hits   []Hit          // ring buffer
	next   int
}

func newStats() stats { return stats{counts: make(map[string]int)} }

func (st *stats) record(method, path string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.counts[path]++
	h := Hit{Time: time.Now(), Method: method, Path: path}
	if len(st.hits) < maxHits {
		st.hits = append(st.hits, h)
		return
	}
	st.hits[st.next] = h
	st.next = (st.next + 1) % maxHits
}

// Count returns how many requests arrived for paths starting with prefix
// (faulted ones included).
func (s *Server) Count(prefix string) int {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for p, c := range st.counts {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

// Counts returns a copy of the per-path request counters.
func (s *Server) Counts() map[string]int {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]int, len(st.counts))
	for p, c := range st.counts {
		out[p] = c
	}
	return out
}

// Hits returns the logged requests under prefix, oldest first (the last
// 20000 requests are kept).
func (s *Server) Hits(prefix string) []Hit {
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Hit
	n := len(st.hits)
	for i := 0; i < n; i++ {
		h := st.hits[(st.next+i)%n]
		if strings.HasPrefix(h.Path, prefix) {
			out = append(out, h)
		}
	}
	return out
}

// ResetCounts clears the counters and the request log.
func (s *Server) ResetCounts() {
	st := &s.stats
	st.mu.Lock()
	st.counts = make(map[string]int)
	st.hits, st.next = nil, 0
	st.mu.Unlock()
}
