package mail

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/internal/memprobe"
)

func TestLineCap(t *testing.T) {
	lit := strings.Repeat("x", 5000) // no line end: only the literal rule lets it through
	for _, c := range []struct {
		name, in string
		ok       bool
	}{
		{"short lines", "* OK a\r\n* OK b\r\n", true},
		{"literal longer than the cap", "* 1 FETCH (BODY[] {5000}\r\n" + lit + ")\r\n", true},
		{"literal+", "* 1 FETCH (BODY[] {5000+}\r\n" + lit + ")\r\n", true},
		{"long line", "* OK " + lit + "\r\n", false},
		{"literal announced mid-line only", "* OK {5000} " + lit + "\r\n", false},
		{"line after a literal", "* 1 FETCH (BODY[] {3}\r\nabc " + lit + "\r\n", false},
	} {
		var out bytes.Buffer
		// Small reads cut the stream anywhere, literal markers included.
		_, err := io.CopyBuffer(&out, newLineCap(strings.NewReader(c.in), 1024), make([]byte, 7))
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
		if c.ok && out.String() != c.in {
			t.Errorf("%s: bytes changed", c.name)
		}
	}
}

// Issue 16.1: a 120 MB response line (here an untagged OK during UID SEARCH) fails the
// folder with a clear error, with bounded memory, and the run ends.
//
// The cap is 4 MiB here, so the race detector's slowness (three attempts
// read up to the cap) stays within fakeBackup's deadline; without -race the
// real 32 MiB cap measured 136 MiB peak heap.
func TestHugeResponseLine(t *testing.T) {
	defer func(n int) { maxRespLine = n }(maxRespLine)
	maxRespLine = 4 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, greeting: okGreeting, reply: folderServer(func(tag, cmd string) (string, bool) {
		return tag + " OK\r\n", false
	})}
	f.stream = func(tag, cmd string, w io.Writer) bool {
		if !strings.HasPrefix(cmd, "UID SEARCH") {
			return false
		}
		chunk := []byte(strings.Repeat("a", 1<<20))
		io.WriteString(w, "* OK ")
		for i := 0; i < 120; i++ {
			if _, err := w.Write(chunk); err != nil {
				return true
			}
		}
		io.WriteString(w, "\r\n"+tag+" OK done\r\n")
		return true
	}
	addr := serveFake(t, ln, f)
	var uerr error
	var failures []string
	peak := memprobe.HeapPeak(func() {
		e, ms := fakeBackup(t, addr)
		uerr, failures = e, ms.Failures
	})
	t.Logf("peak heap %d MiB; user error %v; failures %q", peak>>20, uerr, failures)
	all := strings.Join(failures, " ")
	if uerr != nil {
		all += uerr.Error()
	}
	if !strings.Contains(all, "longer than 4 MiB") {
		t.Errorf("no error naming the line cap: %v %q", uerr, failures)
	}
	if peak > 768<<20 {
		t.Errorf("peak heap %d MiB: not bounded", peak>>20)
	}
}
