package mail

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// encodeMailbox encodes a folder name in modified UTF-7 (RFC 3501 5.1.3), the
// inverse of decodeMailbox: printable ASCII stays as is ('&' becomes "&-"),
// every other run of characters goes out as "&<base64 of UTF-16BE, ',' for
// '/'>-". Invalid UTF-8 bytes are encoded as U+FFFD.
func encodeMailbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		units := utf16.Encode(run)
		raw := make([]byte, 2*len(units))
		for i, u := range units {
			raw[2*i], raw[2*i+1] = byte(u>>8), byte(u)
		}
		b.WriteByte('&')
		b.WriteString(strings.ReplaceAll(base64.RawStdEncoding.EncodeToString(raw), "/", ","))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range name {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			if r == utf8.RuneError {
				r = '\uFFFD'
			}
			run = append(run, r)
		}
	}
	flush()
	return b.String()
}

// quoteArg renders s as an IMAP quoted string. It reports false when s cannot
// be quoted (CR, LF, NUL or 8-bit bytes), which never happens for names
// produced by encodeMailbox.
func quoteArg(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0 || c == '\r' || c == '\n' || c >= 0x80:
			return "", false
		case c == '"' || c == '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), true
}
