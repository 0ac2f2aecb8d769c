package export

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// maxSegment keeps each path segment well under the 255-byte limit of
// common filesystems, leaving room for suffixes such as ".mbox".
const maxSegment = 180

var reserved = map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "LPT1": true, "LPT2": true, "LPT3": true}

// SafeName turns any string into one path segment safe on Linux, macOS and
// Windows. Distinct inputs that collide after cleaning get a hash suffix
// from the caller's uniq map, so nothing is overwritten.
func SafeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			b.WriteByte('_')
		case strings.ContainsRune(`/\:*?"<>|`, r):
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimRight(b.String(), ". ")
	out = strings.TrimLeft(out, " ")
	if out == "" || out == "." || out == ".." {
		out = "_"
	}
	if reserved[strings.ToUpper(strings.SplitN(out, ".", 2)[0])] {
		out = "_" + out
	}
	if len(out) > maxSegment {
		h := sha256.Sum256([]byte(s))
		cut := maxSegment - 13
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "~" + hex.EncodeToString(h[:6])
	}
	return out
}

// uniq hands out names that differ from every earlier one in the same scope.
type uniq map[string]int

func (u uniq) name(base, ext string) string {
	key := strings.ToLower(base + ext) // case-insensitive filesystems
	n := u[key]
	u[key] = n + 1
	if n == 0 {
		return base + ext
	}
	return base + "~" + itoa(n) + ext
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{digits[n%10]}, b...)
		n /= 10
	}
	return string(b)
}
