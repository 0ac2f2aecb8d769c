// Package journald makes zap log lines carry their syslog priority for
// systemd-journald: each line written to stderr starts with "<N>" (3 = err,
// 4 = warning, 6 = info, 7 = debug), which journald strips and stores as the
// entry's PRIORITY when the unit has SyslogLevelPrefix=yes (the default), so
// `journalctl -u y360backup -p err` shows only errors.
//
// It also tells whether stderr is connected to the journal ($JOURNAL_STREAM),
// so log.format: auto can choose the prefixed format under systemd only.
package journald

import (
	"bytes"
	"strconv"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// Priority is the syslog priority journald stores for a zap level.
func Priority(l zapcore.Level) int {
	switch {
	case l <= zapcore.DebugLevel:
		return 7 // debug
	case l == zapcore.InfoLevel:
		return 6 // info
	case l == zapcore.WarnLevel:
		return 4 // warning
	case l == zapcore.ErrorLevel:
		return 3 // err
	}
	return 2 // crit: DPanic, Panic, Fatal
}

// Encoder wraps enc so every line of every entry starts with the entry's
// "<N>" prefix. A multi-line entry (an error text with newlines) becomes
// several journal entries, each with the priority, instead of a first line
// at the right priority and the rest at the unit's default.
func Encoder(enc zapcore.Encoder) zapcore.Encoder { return encoder{enc} }

type encoder struct{ zapcore.Encoder }

var pool = buffer.NewPool()

func (e encoder) Clone() zapcore.Encoder { return encoder{e.Encoder.Clone()} }

func (e encoder) EncodeEntry(ent zapcore.Entry, fs []zapcore.Field) (*buffer.Buffer, error) {
	inner, err := e.Encoder.EncodeEntry(ent, fs)
	if err != nil {
		return nil, err
	}
	defer inner.Free()
	prefix := "<" + strconv.Itoa(Priority(ent.Level)) + ">"
	out := pool.Get()
	lines := bytes.SplitAfter(inner.Bytes(), []byte("\n"))
	for _, line := range lines {
		if len(line) == 0 {
			continue // after the final newline
		}
		out.AppendString(prefix)
		_, _ = out.Write(line)
	}
	if n := out.Len(); n > 0 && out.Bytes()[n-1] != '\n' {
		out.AppendByte('\n')
	}
	return out, nil
}

// TextEncoder is the format for log.format: journald: zap's console layout
// without a timestamp (journald stamps each entry) and without colours.
func TextEncoder() zapcore.Encoder {
	cfg := zapcore.EncoderConfig{
		LevelKey:         "level",
		NameKey:          "logger",
		MessageKey:       "msg",
		LineEnding:       "\n",
		EncodeLevel:      zapcore.LowercaseLevelEncoder,
		EncodeDuration:   zapcore.StringDurationEncoder,
		EncodeName:       zapcore.FullNameEncoder,
		ConsoleSeparator: " ",
	}
	return Encoder(zapcore.NewConsoleEncoder(cfg))
}
