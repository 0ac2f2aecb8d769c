package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// EscapeName turns a name into one path segment safe on Linux, macOS and
// Windows, reversibly: every byte that could not stay (separators, the
// characters Windows refuses, control bytes, invalid UTF-8, trailing dots
// and spaces, a leading space, and '%' itself) becomes %XX, and so does the
// first letter of a reserved device name (CON, NUL, ...) or of one of
// reserved (case-insensitive; e.g. a Maildir's cur, new, tmp).
// UnescapeName undoes it. Distinct names stay distinct, except that a
// segment over maxSegment bytes is cut and given a hash (the manifest keeps
// the original) and that case-insensitive filesystems fold case (the
// namer adds ~N then).
func EscapeName(s string, reserved ...string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f, strings.ContainsRune(`/\:*?"<>|%`, r):
			fmt.Fprintf(&b, "%%%02X", s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	out := b.String()
	// Windows drops trailing dots and spaces and refuses "." and "..".
	trail := len(out) - len(strings.TrimRight(out, ". "))
	if trail > 0 {
		var t strings.Builder
		for _, c := range []byte(out[len(out)-trail:]) {
			fmt.Fprintf(&t, "%%%02X", c)
		}
		out = out[:len(out)-trail] + t.String()
	}
	if strings.HasPrefix(out, " ") {
		out = "%20" + out[1:]
	}
	stem := strings.ToUpper(strings.SplitN(out, ".", 2)[0])
	isReserved := reservedName(stem)
	for _, r := range reserved {
		isReserved = isReserved || strings.EqualFold(out, r)
	}
	if isReserved {
		out = fmt.Sprintf("%%%02X", out[0]) + out[1:]
	}
	if len(out) > maxSegment {
		h := sha256.Sum256([]byte(s))
		cut := maxSegment - 13
		for cut > 0 && (!utf8.RuneStart(out[cut]) || strings.LastIndexByte(out[max(cut-2, 0):cut], '%') >= 0) {
			cut--
		}
		out = out[:cut] + "~" + hex.EncodeToString(h[:6])
	}
	return out
}

// UnescapeName is the inverse of EscapeName (for names it did not cut).
func UnescapeName(s string) (string, error) {
	return url.PathUnescape(s)
}

func reservedName(stem string) bool {
	if reserved[stem] {
		return true
	}
	return len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '1' && stem[3] <= '9'
}
