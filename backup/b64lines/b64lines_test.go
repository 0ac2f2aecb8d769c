package b64lines

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func encode(t testing.TB, in []byte, split int) []byte {
	t.Helper()
	var out bytes.Buffer
	w := NewWriter(&out)
	for p := in; len(p) > 0; {
		k := min(split, len(p))
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func decode(enc []byte) ([]byte, error) {
	return io.ReadAll(NewReader(bytes.NewReader(enc)))
}

func mime(raw []byte, width int, eol string) string {
	s := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + eol)
		s = s[width:]
	}
	b.WriteString(s + eol)
	return b.String()
}

func TestRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 200_000)
	for i := range blob {
		blob[i] = byte(rnd.Uint32())
	}
	text := bytes.Repeat([]byte("Привет, мир! Hello world. "), 3000)
	cases := []struct {
		name   string
		in     string
		shrink bool // the encoded form must be smaller than 0.8 × the input
	}{
		{"empty", "", false},
		{"one line no newline", "abcd", false},
		{"plain text", "Subject: hi\r\n\r\nHello there\r\n", false},
		{"attachment LF", "Content-Transfer-Encoding: base64\n\n" + mime(blob, 76, "\n") + "--b--\n", true},
		{"attachment CRLF", "Content-Transfer-Encoding: base64\r\n\r\n" + mime(blob, 76, "\r\n") + "--b--\r\n", true},
		{"width 64", mime(blob, 64, "\r\n"), true},
		{"base64 text", mime(text, 76, "\r\n"), true},
		{"two lines only", mime(blob[:100], 76, "\n"), false},
		{"mixed endings", "QUJDREVGR0hJSktMTU5PUA==\r\nQUJDREVGR0hJSktMTU5PUA\nQUJDREVGR0hJSktMTU5PUEFCQ0RFRkdISUpLTE1OT1BB\r\n", false},
		{"long line", strings.Repeat("A", 5000) + "\n" + mime(blob[:50000], 76, "\n"), true},
		{"no final newline", mime(blob[:5000], 76, "\n") + "QUJD", true},
		{"lone CR", "\r\n\r\r\n\n\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, split := range []int{1, 7, 76, 4096, 1 << 30} {
				if split == 1 && len(c.in) > 20000 {
					continue
				}
				e := encode(t, []byte(c.in), split)
				got, err := decode(e)
				if err != nil {
					t.Fatalf("split %d: decode: %v", split, err)
				}
				if !bytes.Equal(got, []byte(c.in)) {
					t.Fatalf("split %d: round trip differs (%d bytes in, %d out)", split, len(c.in), len(got))
				}
				if c.shrink && float64(len(e)) > 0.8*float64(len(c.in)) {
					t.Fatalf("split %d: encoded %d of %d bytes: base64 runs were not packed", split, len(e), len(c.in))
				}
			}
		})
	}
}

func TestEncodingIsStable(t *testing.T) {
	// Records are part of the repository format: pin one.
	in := "hdr\nQUJDREVGR0hJSktM\nQUJDREVGR0hJSktM\nQUJDREVGR0hJSktM\nend"
	got := encode(t, []byte(in), 1<<30)
	want := append([]byte{4}, "hdr\n"...)
	want = append(want, 3, 4, eolLF)
	for i := 0; i < 3; i++ {
		want = append(want, "ABCDEFGHIJKL"...)
	}
	want = append(want, 3)
	want = append(want, "end"...)
	want = append(want, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded %q, want %q", got, want)
	}
}

func TestReaderRejectsGarbage(t *testing.T) {
	for _, in := range [][]byte{
		{5, 'a'},                 // literal cut short
		{0, 3, 4},                // run header cut short
		{0, 3, 1, 0},             // quads below the minimum
		{0, 3, 4, 7},             // bad line ending
		{0, 200, 200, 200, 1, 4}, // run larger than a record may be
		{0, 3, 4, 0, 1, 2},       // run cut short
		{0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := decode(in); err == nil {
			t.Errorf("%v: decoded without error", in)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("QUJDREVGR0hJSktM\nQUJDREVGR0hJSktM\r\nQUJDREVGR0hJSktM\nQUJDREVGR0hJSktM\n"), 3)
	f.Add([]byte(mime(bytes.Repeat([]byte{1, 2, 3}, 300), 76, "\r\n")), 1000)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		if split <= 0 {
			split = 1 << 30
		}
		e := encode(t, in, split)
		got, err := decode(e)
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func FuzzReader(f *testing.F) {
	f.Add([]byte{4, 'h', 'd', 'r', '\n', 3, 4, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := decode(in)
		if err == nil && len(out) > 64*len(in)+64 {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
	})
}

func benchInput() []byte {
	rnd := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, 3<<20)
	for i := range raw {
		raw[i] = byte(rnd.Uint32())
	}
	text := bytes.Repeat([]byte("Subject: hello\r\nSome words of text in a message body.\r\n"), 20000)
	return append(text, mime(raw, 76, "\r\n")...)
}

func BenchmarkWriter(b *testing.B) {
	in := benchInput()
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		*w = Writer{w: io.Discard, lit: w.lit, run: w.run}
		w.Write(in)
		w.Close()
	}
}

func BenchmarkReader(b *testing.B) {
	in := benchInput()
	e := encode(b, in, 1<<30)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		io.Copy(io.Discard, NewReader(bytes.NewReader(e)))
	}
}
