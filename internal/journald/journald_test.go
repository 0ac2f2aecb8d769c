package journald_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/y360backup/y360backup/internal/journald"
)

func TestPriority(t *testing.T) {
	tests := []struct {
		l    zapcore.Level
		want int
	}{
		{zapcore.DebugLevel, 7}, {zapcore.InfoLevel, 6}, {zapcore.WarnLevel, 4},
		{zapcore.ErrorLevel, 3}, {zapcore.DPanicLevel, 2}, {zapcore.FatalLevel, 2},
	}
	for _, tt := range tests {
		if got := journald.Priority(tt.l); got != tt.want {
			t.Errorf("Priority(%v) = %d, want %d", tt.l, got, tt.want)
		}
	}
}

func logTo(buf *bytes.Buffer, enc zapcore.Encoder) *zap.Logger {
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(buf), zapcore.DebugLevel))
}

func TestTextEncoderPrefixesEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := logTo(&buf, journald.TextEncoder())
	log.Debug("d")
	log.Info("started", zap.String("version", "v1"))
	log.Warn("w")
	log.Error("run failed", zap.Error(errors.New("line one\nline two")))
	want := "<7>debug d\n" +
		"<6>info started {\"version\": \"v1\"}\n" +
		"<4>warn w\n" +
		"<3>error run failed {\"error\": \"line one\\nline two\"}\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A message with raw newlines (console encoders do not escape messages)
// becomes several journal lines, each at the entry's priority.
func TestMultiLineMessage(t *testing.T) {
	var buf bytes.Buffer
	logTo(&buf, journald.TextEncoder()).Error("problems:\n  a\n  b")
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "<3>") {
			t.Errorf("line %q lacks <3>:\n%s", line, buf.String())
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, buf.String())
	}
}

// JSON keeps its one-line objects; journald stores the JSON as MESSAGE.
func TestJSONEncoderPrefixed(t *testing.T) {
	var buf bytes.Buffer
	enc := journald.Encoder(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()))
	logTo(&buf, enc).With(zap.String("job", "daily")).Warn("slow")
	if got := buf.String(); !strings.HasPrefix(got, "<4>{") || !strings.Contains(got, `"job":"daily"`) || strings.Count(got, "\n") != 1 {
		t.Errorf("got %q", got)
	}
}

func TestIsJournal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	same := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	other := fmt.Sprintf("%d:%d", st.Dev, st.Ino+1)
	tests := []struct {
		env  string
		want bool
	}{{same, true}, {other, false}, {"", false}, {"garbage", false}}
	for _, tt := range tests {
		if got := journald.IsJournal(f, tt.env); got != tt.want {
			t.Errorf("IsJournal(%q) = %v, want %v", tt.env, got, tt.want)
		}
	}
}
