package main

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// TestLogEncoder: under systemd (stderr is $JOURNAL_STREAM) every line
// carries its journald priority, so `journalctl -p err` filters; elsewhere
// the layouts are unchanged.
func TestLogEncoder(t *testing.T) {
	tests := []struct {
		format            string
		journal, terminal bool
		wantPrefix        string // of an error line
		wantJSON          bool
	}{
		{"auto", true, false, "<3>error boom", false},
		{"journald", false, false, "<3>error boom", false},
		{"journald", false, true, "<3>error boom", false},
		{"json", true, false, "<3>{", true},
		{"auto", false, false, "{", true},
		{"json", false, true, "{", true},
		{"auto", false, true, "20", false}, // console: starts with the time
		{"console", true, true, "20", false},
	}
	for _, tt := range tests {
		enc := logEncoder(tt.format, tt.journal, tt.terminal)
		buf, err := enc.EncodeEntry(zapcore.Entry{Level: zapcore.ErrorLevel, Message: "boom", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		if !strings.HasPrefix(line, tt.wantPrefix) || strings.Contains(line, `"msg":"boom"`) != tt.wantJSON {
			t.Errorf("format %s journal=%v terminal=%v: %q, want prefix %q (json %v)", tt.format, tt.journal, tt.terminal, line, tt.wantPrefix, tt.wantJSON)
		}
	}
}
