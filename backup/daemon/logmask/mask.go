package logmask

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// email matches an address, with "@" or its percent-encoding, IDN domains included.
var email = regexp.MustCompile(`(?i)([\p{L}\p{N}._+\-]+)(@|%40)([\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,})`)

// MaskEmail masks one address, keeping the first character of the local part
// and the whole domain. A string that is not an address is returned as is.
func MaskEmail(addr string) string {
	if m := email.FindStringSubmatch(addr); m != nil && m[0] == addr {
		return maskParts(m[1], m[2], m[3])
	}
	return addr
}

// MaskText masks every address found in s.
func MaskText(s string) string {
	if !strings.Contains(s, "@") && !strings.Contains(s, "%40") {
		return s
	}
	return email.ReplaceAllStringFunc(s, func(a string) string {
		m := email.FindStringSubmatch(a)
		return maskParts(m[1], m[2], m[3])
	})
}

func maskParts(local, at, domain string) string {
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***" + at + domain
}

// Option returns the zap option that masks emails in everything logged.
func Option() zap.Option { return zap.WrapCore(Core) }

// Core wraps c so every entry is masked before it is encoded.
func Core(c zapcore.Core) zapcore.Core { return maskCore{c} }

type maskCore struct{ zapcore.Core }

func (c maskCore) With(fs []zapcore.Field) zapcore.Core {
	return maskCore{c.Core.With(maskFields(fs))}
}

func (c maskCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c maskCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	e.Message = MaskText(e.Message)
	return c.Core.Write(e, maskFields(fs))
}

func maskFields(fs []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(fs))
	for i, f := range fs {
		out[i] = maskField(f)
	}
	return out
}

func maskField(f zapcore.Field) zapcore.Field {
	switch f.Type {
	case zapcore.StringType:
		f.String = MaskText(f.String)
	case zapcore.ByteStringType:
		if b, ok := f.Interface.([]byte); ok {
			return zap.String(f.Key, MaskText(string(b)))
		}
	case zapcore.ErrorType:
		if err, ok := f.Interface.(error); ok && err != nil {
			return zap.String(f.Key, MaskText(err.Error()))
		}
	case zapcore.StringerType:
		if s, ok := f.Interface.(fmt.Stringer); ok && s != nil {
			return zap.String(f.Key, MaskText(s.String()))
		}
	case zapcore.ArrayMarshalerType, zapcore.ObjectMarshalerType, zapcore.ReflectType,
		zapcore.NamespaceType, zapcore.InlineMarshalerType:
		if f.Type == zapcore.NamespaceType {
			return f
		}
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		if f.Type == zapcore.InlineMarshalerType {
			return zap.Inline(maskedObject(enc.Fields))
		}
		return zap.Any(f.Key, maskValue(enc.Fields[f.Key]))
	}
	return f
}

// maskValue masks strings inside an array/object value; other values
// (structs logged with zap.Any) are taken through JSON first so their
// strings are reached too.
func maskValue(v any) any {
	switch v.(type) {
	case string, []any, map[string]any, nil, bool, int, int64, uint64, float64:
	default:
		if b, err := json.Marshal(v); err == nil {
			var generic any
			if json.Unmarshal(b, &generic) == nil {
				v = generic
			}
		}
	}
	switch x := v.(type) {
	case string:
		return MaskText(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = maskValue(e)
		}
		return out
	}
	return v
}

// maskedObject re-emits inline fields after masking them.
type maskedObject map[string]any

func (m maskedObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for k, v := range m {
		if err := enc.AddReflected(k, maskValue(v)); err != nil {
			return err
		}
	}
	return nil
}
