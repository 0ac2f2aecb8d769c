package export_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/y360backup/y360backup/backup/export"
)

// FuzzEscapeName: folder, calendar and file names come from servers. Every
// escaped name must be one safe segment, and read back to the original
// unless it was cut (then it carries a hash).
func FuzzEscapeName(f *testing.F) {
	for _, s := range append(hostileFolders, "", "Проекты", "a%b", "%%", " ", "..", "x\xff", "com9.log", strings.Repeat("я", 200)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := export.EscapeName(s, "cur", "new", "tmp")
		if e == "" || len(e) > 200 || !utf8.ValidString(e) || strings.ContainsAny(e, "/\\:*?\"<>|\x00") ||
			strings.HasSuffix(e, ".") || strings.HasSuffix(e, " ") || strings.HasPrefix(e, " ") || e == "." || e == ".." {
			t.Fatalf("EscapeName(%q) = %q is not a safe segment", s, e)
		}
		for _, r := range e {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("EscapeName(%q) = %q has a control character", s, e)
			}
		}
		back, err := export.UnescapeName(e)
		cut := strings.Contains(e, "~") && len(e) > 150
		if s != "" && !cut && (err != nil || back != s) {
			t.Fatalf("EscapeName(%q) = %q reads back as %q, %v", s, e, back, err)
		}
	})
}
