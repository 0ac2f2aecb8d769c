package main

import (
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
)

// --at names the end of the period it spells: a date is the whole day ("as
// it was on the 20th"), a minute or second runs to its end, a time with
// fractions (snapshots --json) is exact.
func TestParseAt(t *testing.T) {
	loc := time.Local
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-20", time.Date(2026, 11, 20, 23, 59, 59, 999999999, loc)},
		{"2026-11-20 18:00", time.Date(2026, 11, 20, 18, 0, 59, 999999999, loc)},
		{"2026-11-20T18:00", time.Date(2026, 11, 20, 18, 0, 59, 999999999, loc)},
		{"2026-11-20 18:00:05", time.Date(2026, 11, 20, 18, 0, 5, 999999999, loc)},
		{"2026-11-20T18:00:05+03:00", time.Date(2026, 11, 20, 15, 0, 5, 999999999, time.UTC)},
		{"2026-11-20T15:00:05.123456789Z", time.Date(2026, 11, 20, 15, 0, 5, 123456789, time.UTC)},
		{" 2026-11-20 ", time.Date(2026, 11, 20, 23, 59, 59, 999999999, loc)},
		{"2026-11-20 18:00:05.120", time.Date(2026, 11, 20, 18, 0, 5, 120999999, loc)},
		{"2026-11-20 18:00:05.000", time.Date(2026, 11, 20, 18, 0, 5, 999999, loc)},
		{"2026-11-20T15:00:05.5Z", time.Date(2026, 11, 20, 15, 0, 5, 599999999, time.UTC)},
	}
	for _, tt := range tests {
		got, err := parseAt(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseAt(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "20/11/2026"} {
		if _, err := parseAt(bad); err == nil {
			t.Errorf("parseAt(%q) accepted", bad)
		}
	}
	// --since/--until keep the start of what they name.
	if got, _ := parseTime("2026-11-20"); !got.Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, loc)) {
		t.Errorf("parseTime(date) = %v", got)
	}
}

// The TIME column gets fractions only when two neighbours share a second.
func TestTimeDigits(t *testing.T) {
	base := time.Date(2026, 11, 20, 18, 0, 5, 0, time.Local)
	snap := func(d time.Duration) *backup.Snapshot { return &backup.Snapshot{Finished: base.Add(d)} }
	tests := []struct {
		snaps []*backup.Snapshot
		want  int
	}{
		{[]*backup.Snapshot{snap(0), snap(time.Second)}, 0},
		{[]*backup.Snapshot{snap(0), snap(100 * time.Millisecond)}, 3},
		{[]*backup.Snapshot{snap(0), snap(time.Second), snap(time.Second + 10*time.Microsecond)}, 6},
		{[]*backup.Snapshot{snap(1), snap(2)}, 9},
	}
	for i, tt := range tests {
		if got := timeDigits(tt.snaps); got != tt.want {
			t.Errorf("%d: %d digits, want %d", i, got, tt.want)
		}
	}
}

// A command's failure summary names that command, not "backup".
func TestFinishedWording(t *testing.T) {
	err := finished(nil, 2, "export", "exported")
	if err == nil || err.Error() != "export finished with failures: 2 item(s) not exported" || exitCode(err) != exitFailure {
		t.Errorf("got %v (exit %d)", err, exitCode(err))
	}
	if finished(nil, 0, "restore", "restored") != nil {
		t.Error("no failures must be no error")
	}
}

// FuzzParseAt: --at is typed by people. Whatever it accepts names a
// period: the instant --at picks is never before its start.
func FuzzParseAt(f *testing.F) {
	for _, s := range []string{"2026-11-20", "2026-11-20 18:00", "2026-11-20 18:00:05.120", "2026-11-20T15:00:05.123456789Z", "2026-11-20T18:00:05+03:00", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := parseAt(s)
		start, serr := parseTime(s)
		if (err == nil) != (serr == nil) {
			t.Fatalf("%q: parseAt %v, parseTime %v", s, err, serr)
		}
		if err == nil && at.Before(start) {
			t.Fatalf("%q: --at %v before the start %v", s, at, start)
		}
	})
}
