package logmask

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// email matches an address, with "@" or its percent-encoding, IDN domains included.
var email = regexp.MustCompile(`(?i)([\p{L}\p{N}._+\-]+)(@|%40)([\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,})`)

// Masker turns addresses into stable pseudonyms: alice@example.com becomes
// a[5d41402abc]@example.com, where the bracket holds the first 40 bits of
// HMAC-SHA256(key, lower-cased address). The same address always gets the
// same pseudonym under the same key, so users can be told apart across
// runs and log lines, while without the key a list of candidate addresses
// cannot be hashed to match. The bracket also keeps a masked address from
// being masked again (the local part must end right before the "@").
type Masker struct{ key []byte }

// New returns a Masker keyed by key. An empty key still gives stable
// pseudonyms, but anyone can then recompute them from a list of addresses.
func New(key []byte) *Masker { return &Masker{key: slices.Clone(key)} }

// pseudonymBytes is the length of the pseudonym's hash (40 bits: a chance
// of about 1 in 20 000 that two of 10 000 users share one).
const pseudonymBytes = 5

// Email masks one address. A string that is not an address is returned as is.
func (m *Masker) Email(addr string) string {
	if sm := email.FindStringSubmatch(addr); sm != nil && sm[0] == addr {
		return m.parts(sm[1], sm[2], sm[3])
	}
	return addr
}

// Text masks every address found in s.
func (m *Masker) Text(s string) string {
	if !strings.Contains(s, "@") && !strings.Contains(s, "%40") {
		return s
	}
	return email.ReplaceAllStringFunc(s, func(a string) string {
		sm := email.FindStringSubmatch(a)
		return m.parts(sm[1], sm[2], sm[3])
	})
}

func (m *Masker) parts(local, at, domain string) string {
	r, _ := utf8.DecodeRuneInString(local)
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(strings.ToLower(local + "@" + domain))) // %40 and @ name the same user
	return string(r) + "[" + hex.EncodeToString(mac.Sum(nil)[:pseudonymBytes]) + "]" + at + domain
}

// Option returns the zap option that masks emails in everything logged.
func (m *Masker) Option() zap.Option { return zap.WrapCore(m.Core) }

// Core wraps c so every entry is masked before it is encoded.
func (m *Masker) Core(c zapcore.Core) zapcore.Core { return maskCore{c, m} }

type maskCore struct {
	zapcore.Core
	m *Masker
}

func (c maskCore) With(fs []zapcore.Field) zapcore.Core {
	return maskCore{c.Core.With(c.m.fields(fs)), c.m}
}

func (c maskCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c maskCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	e.Message = c.m.Text(e.Message)
	return c.Core.Write(e, c.m.fields(fs))
}

func (m *Masker) fields(fs []zapcore.Field) []zapcore.Field {
	out := make([]zapcore.Field, len(fs))
	for i, f := range fs {
		out[i] = m.field(f)
	}
	return out
}

func (m *Masker) field(f zapcore.Field) zapcore.Field {
	switch f.Type {
	case zapcore.StringType:
		f.String = m.Text(f.String)
	case zapcore.ByteStringType:
		if b, ok := f.Interface.([]byte); ok {
			return zap.String(f.Key, m.Text(string(b)))
		}
	case zapcore.ErrorType:
		if err, ok := f.Interface.(error); ok && err != nil {
			return zap.String(f.Key, m.Text(err.Error()))
		}
	case zapcore.StringerType:
		if s, ok := f.Interface.(fmt.Stringer); ok && s != nil {
			return zap.String(f.Key, m.Text(s.String()))
		}
	case zapcore.ArrayMarshalerType, zapcore.ObjectMarshalerType, zapcore.ReflectType,
		zapcore.NamespaceType, zapcore.InlineMarshalerType:
		if f.Type == zapcore.NamespaceType {
			return f
		}
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		if f.Type == zapcore.InlineMarshalerType {
			return zap.Inline(maskedObject{enc.Fields, m})
		}
		return zap.Any(f.Key, m.value(enc.Fields[f.Key]))
	}
	return f
}

// maskValue masks strings inside an array/object value; other values
// (structs logged with zap.Any) are taken through JSON first so their
// strings are reached too.
func (m *Masker) value(v any) any {
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
		return m.Text(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.value(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = m.value(e)
		}
		return out
	}
	return v
}

// maskedObject re-emits inline fields after masking them.
type maskedObject struct {
	fields map[string]any
	m      *Masker
}

func (o maskedObject) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for k, v := range o.fields {
		if err := enc.AddReflected(k, o.m.value(v)); err != nil {
			return err
		}
	}
	return nil
}
