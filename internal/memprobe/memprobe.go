// Package memprobe measures the peak heap of a piece of work, for tests
// that show memory stays bounded on hostile input (issue 16.1). It samples;
// it is a measurement for reports and generous bounds, not a benchmark.
package memprobe

import (
	"runtime"
	"sync/atomic"
	"time"
)

// HeapPeak runs fn and returns the largest HeapInuse seen meanwhile
// (sampled every 5 ms, and once at the end).
func HeapPeak(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return max(peak.Load(), ms.HeapInuse)
}
