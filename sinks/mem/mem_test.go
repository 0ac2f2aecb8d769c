package mem_test

import (
	"testing"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

// The in-memory sink keeps the same contracts as the real ones; it buffers
// whole objects, so the large-object memory check gets a small size.
func TestConformance(t *testing.T) {
	sinktest.RunOptions(t, sinktest.Options{LargeSize: 4 << 20, MaxHeapGrowth: 64 << 20}, func(t *testing.T) sinks.Sink { return mem.New() })
}
