package backup

import (
	"testing"
	"time"
)

// Snapshots of the same second come out by time, then ID; never by ID alone.
func TestSortSnapshotsByTimeThenID(t *testing.T) {
	base := time.Date(2026, 11, 20, 10, 0, 5, 0, time.UTC)
	ss := []*Snapshot{
		{ID: "00aa", Finished: base.Add(900 * time.Millisecond)},
		{ID: "ffbb", Finished: base.Add(100 * time.Millisecond)},
		{ID: "cc00", Finished: base.Add(100 * time.Millisecond)},
		{ID: "0000", Finished: base.Add(-time.Second)},
	}
	sortSnapshots(ss)
	var got []string
	for _, s := range ss {
		got = append(got, s.ID)
	}
	want := []string{"0000", "cc00", "ffbb", "00aa"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}
