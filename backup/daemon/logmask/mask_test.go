package logmask_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/y360backup/y360backup/backup/daemon/logmask"
)

func TestMaskEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice@example.com", "a***@example.com"},
		{"Bob.Builder+tag@sub.corp.example", "B***@sub.corp.example"},
		{"иван@пример.рф", "и***@пример.рф"},
		{"not an address", "not an address"},
		{"alice@localhost", "alice@localhost"}, // no dot: not treated as an address
	}
	for _, tt := range tests {
		if got := logmask.MaskEmail(tt.in); got != tt.want {
			t.Errorf("MaskEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskText(t *testing.T) {
	in := "calendar: user alice@example.com: PROPFIND /calendars/alice%40example.com/: 403; cc bob@example.com"
	want := "calendar: user a***@example.com: PROPFIND /calendars/a***%40example.com/: 403; cc b***@example.com"
	if got := logmask.MaskText(in); got != want {
		t.Errorf("MaskText:\n got %q\nwant %q", got, want)
	}
}

type user struct {
	Email string `json:"email"`
}

func (u user) String() string { return "user " + u.Email }

func TestCoreMasksEverything(t *testing.T) {
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)
	log := zap.New(core, logmask.Option()).With(zap.String("owner", "carol@example.com"))
	log.Info("backing up dave@example.com",
		zap.String("user", "alice@example.com"),
		zap.Error(errors.New("imap: login bob@example.com refused")),
		zap.Strings("users", []string{"eve@example.com", "frank@example.com"}),
		zap.Stringer("who", user{"grace@example.com"}),
		zap.Any("obj", user{"heidi@example.com"}),
		zap.ByteString("raw", []byte("ivan@example.com")),
		zap.Int("n", 3),
	)
	log.Debug("debug too", zap.String("user", "judy@example.com"))
	out := buf.String()
	for _, name := range []string{"alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy"} {
		if strings.Contains(out, name+"@") {
			t.Errorf("%s's address leaked:\n%s", name, out)
		}
		if !strings.Contains(out, name[:1]+"***@example.com") {
			t.Errorf("%s's masked address missing:\n%s", name, out)
		}
	}
	if !strings.Contains(out, `"n":3`) {
		t.Errorf("non-string fields must pass unchanged:\n%s", out)
	}
}

func TestCoreRespectsLevel(t *testing.T) {
	var buf bytes.Buffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.InfoLevel)
	zap.New(core, logmask.Option()).Debug("hidden alice@example.com")
	if buf.Len() != 0 {
		t.Errorf("a debug entry passed an info core: %s", buf.String())
	}
}
