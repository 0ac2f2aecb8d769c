package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// Profiling for measurements (bench/format2.sh): Y360_CPUPROFILE=FILE writes
// a CPU profile of the whole command, Y360_MEMPROFILE=FILE a heap profile
// (in-use and allocated) when it ends. Unset, nothing is done. Profiles
// hold no credentials or mail, only function names and counts.
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
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
