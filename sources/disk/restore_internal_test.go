package disk

import (
	"errors"
	"io"
	"strings"
	"testing"
	stdiotest "testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk/api"
)

func TestDestPath(t *testing.T) {
	tests := []struct {
		id, under, want string
		bad             bool
	}{
		{"disk:/a/b.txt", "", "disk:/a/b.txt", false},
		{"disk:/a/b.txt", "Restored 2026-11-25 12.00", "disk:/Restored 2026-11-25 12.00/a/b.txt", false},
		{"disk:/..hidden/...", "R", "disk:/R/..hidden/...", false},
		{"/plain/path", "", "disk:/plain/path", false},
		{"disk:a.txt", "", "disk:/a.txt", false},
		{"disk:/", "", "", true},
		{"app:/x", "", "", true},
		{"relative.txt", "", "", true},
	}
	for _, tc := range tests {
		got, err := destPath(tc.id, tc.under)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("destPath(%q, %q) = %q, %v; want %q (error %v)", tc.id, tc.under, got, err, tc.want, tc.bad)
		}
	}
}

func TestCleanUnder(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"", "", false},
		{"/Restored 2026-11-25 12.00/", "Restored 2026-11-25 12.00", false},
		{"a/b", "a/b", false},
		{"a//b", "", true},
		{"../x", "", true},
		{"a/./b", "", true},
		{strings.Repeat("д", 256), "", true},
	}
	for _, tc := range tests {
		got, err := cleanUnder(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("cleanUnder(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestParentDir(t *testing.T) {
	for in, want := range map[string]string{
		"disk:/a.txt": "disk:/", "disk:/a/b.txt": "disk:/a", "disk:/a/b/c": "disk:/a/b", "disk:/R/..x/...": "disk:/R/..x",
	} {
		if got := parentDir(in); got != want {
			t.Errorf("parentDir(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCopyName(t *testing.T) {
	long := strings.Repeat("я", 251) + ".txt"
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"disk:/a/report.pdf", 1, "disk:/a/report (restored 1).pdf"},
		{"disk:/a/report.pdf", 12, "disk:/a/report (restored 12).pdf"},
		{"disk:/archive.tar.gz", 1, "disk:/archive.tar (restored 1).gz"},
		{"disk:/noext", 2, "disk:/noext (restored 2)"},
		{"disk:/.bashrc", 1, "disk:/.bashrc (restored 1)"},
		{"disk:/...", 1, "disk:/... (restored 1)"},
		{"disk:/..a..", 1, "disk:/..a.. (restored 1)"},
		{"disk:/v 1.0 final", 1, "disk:/v 1.0 final (restored 1)"}, // ".0 final" is no extension
		{"disk:/d/" + long, 3, "disk:/d/" + strings.Repeat("я", 251-len(" (restored 3)")) + " (restored 3).txt"},
	}
	for _, tc := range tests {
		got := copyName(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("copyName(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
		if name := got[strings.LastIndex(got, "/")+1:]; utf8.RuneCountInString(name) > maxNameLen {
			t.Errorf("copyName(%q): %d characters", tc.in, utf8.RuneCountInString(name))
		}
	}
}

func TestSameFile(t *testing.T) {
	it := sources.RestoreItem{Item: sources.Item{Hash: "ab12", Size: 3}}
	m := Meta{MD5: "md5x"}
	tests := []struct {
		name string
		res  api.Resource
		want bool
	}{
		{"same sha256", api.Resource{Type: "file", Size: 3, SHA256: "AB12"}, true},
		{"other sha256", api.Resource{Type: "file", Size: 3, SHA256: "cd34", MD5: "md5x"}, false},
		{"other size", api.Resource{Type: "file", Size: 4, SHA256: "ab12"}, false},
		{"md5 only", api.Resource{Type: "file", Size: 3, MD5: "md5x"}, true},
		{"no sums", api.Resource{Type: "file", Size: 3}, false},
		{"a folder", api.Resource{Type: "dir", Size: 3, SHA256: "ab12"}, false},
	}
	for _, tc := range tests {
		if got := sameFile(tc.res, it, m); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
	if !sameTime("2024-05-06T07:08:09+00:00", "2024-05-06T10:08:09+03:00") || sameTime("2024-05-06T07:08:09+00:00", "2024-05-06T07:08:10+00:00") {
		t.Error("sameTime compares instants")
	}
}

// errAtEOF returns its bytes, then err instead of io.EOF: a repository
// reader whose object failed verification.
type errAtEOF struct {
	r   io.Reader
	err error
}

func (e *errAtEOF) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func (e *errAtEOF) Close() error { return nil }

func TestUploadBodyHoldsLastByteUntilVerified(t *testing.T) {
	corrupt := errors.New("repository: object is corrupt")
	tests := []struct {
		name    string
		src     io.Reader
		size    int64
		wantN   int // bytes the transport gets
		wantErr string
	}{
		{"verified", strings.NewReader("hello world"), 11, 11, ""},
		{"verified, one byte at a time", stdiotest.OneByteReader(strings.NewReader("hello world")), 11, 11, ""},
		{"one-byte file", strings.NewReader("x"), 1, 1, ""},
		{"corrupt", &errAtEOF{strings.NewReader("hello world"), corrupt}, 11, 10, "corrupt"},
		{"corrupt, data with the error", stdiotest.DataErrReader(&errAtEOF{strings.NewReader("hello world"), corrupt}), 11, 10, "corrupt"},
		{"shorter than recorded", strings.NewReader("hello"), 11, 5, "early"},
		{"one byte short", strings.NewReader("hello worl"), 11, 10, "early"},
		{"longer than recorded", strings.NewReader("hello world!"), 11, 10, "longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, ok := tc.src.(io.ReadCloser)
			if !ok {
				rc = io.NopCloser(tc.src)
			}
			b := &uploadBody{rc: rc, left: tc.size, dog: &watchdog{}}
			got, err := io.ReadAll(b)
			if len(got) != tc.wantN || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %d bytes, err %v; want %d bytes, error containing %q", len(got), err, tc.wantN, tc.wantErr)
			}
			if err == nil && string(got) != "hello world"[:tc.size] && string(got) != "x" {
				t.Fatalf("bytes %q", got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Read(make([]byte, 1)); err == nil {
				t.Fatal("read after close succeeded")
			}
		})
	}
}

func TestWatchdog(t *testing.T) {
	fired := make(chan struct{})
	w := &watchdog{d: 20 * time.Millisecond, cancel: func() { close(fired) }}
	w.arm()
	w.pause() // paused: a slow repository read is not a stall
	time.Sleep(60 * time.Millisecond)
	select {
	case <-fired:
		t.Fatal("fired while paused")
	default:
	}
	w.arm()
	select {
	case <-fired:
	case <-time.After(2 * time.Second):
		t.Fatal("did not fire")
	}
	if !w.stop() {
		t.Fatal("stop does not report the firing")
	}
	quiet := &watchdog{d: time.Millisecond, cancel: func() { t.Error("fired after stop") }}
	quiet.arm()
	quiet.stop()
	time.Sleep(20 * time.Millisecond)
}
