package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// Profiling for measurements (bench/format2.sh): Y360_CPUPROFILE=FILE writes
// a CPU profile of the whole command, Y360_MEMPROFILE=FILE a heap profile
// (in-use and allocated) when it ends, and Y360_PEAKPROFILE=FILE the heap
// profile taken right after the GC that left the most live heap (checked
// every second: where the peak resident set comes from). Unset, nothing is
// done. Profiles hold no credentials or mail, only function names and counts.
func startProfiles() (stop func()) {
	var stops []func()
	if path := os.Getenv("Y360_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "y360backup: Y360_CPUPROFILE:", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "y360backup: Y360_CPUPROFILE:", err)
			f.Close()
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path := os.Getenv("Y360_MEMPROFILE"); path != "" {
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err != nil {
				fmt.Fprintln(os.Stderr, "y360backup: Y360_MEMPROFILE:", err)
				return
			}
			defer f.Close()
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintln(os.Stderr, "y360backup: Y360_MEMPROFILE:", err)
			}
		})
	}
	if path := os.Getenv("Y360_PEAKPROFILE"); path != "" {
		done := make(chan struct{})
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			var peak uint64
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				// HeapAlloc right after a GC is the live heap; sample
				// when the last GC was recent.
				if ms.NumGC == 0 || time.Since(time.Unix(0, int64(ms.LastGC))) > time.Second || ms.HeapAlloc <= peak {
					continue
				}
				peak = ms.HeapAlloc
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
				}
			}
		}()
		stops = append(stops, func() { close(done); <-finished })
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
