package contacts

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestVCardScan(t *testing.T) {
	big := strings.Repeat("A", 3*maxLine)
	tests := []struct {
		name, in  string
		uid       string
		malformed bool
	}{
		{"plain", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:abc\r\nFN:X\r\nEND:VCARD\r\n", "abc", false},
		{"LF only, lower case", "begin:vcard\nuid:x-1\nend:vcard\n", "x-1", false},
		{"folded UID", "BEGIN:VCARD\r\nUID:ab\r\n c\r\nEND:VCARD\r\n", "abc", false},
		{"group and params", "BEGIN:VCARD\r\nitem1.UID;VALUE=text:u\r\nUID;X-P=\"a:b\":real\r\nEND:VCARD\r\n", "real", false},
		{"no UID", "BEGIN:VCARD\r\nFN:No UID\r\nEND:VCARD\r\n", "", false},
		{"huge PHOTO before UID", "BEGIN:VCARD\r\nPHOTO:" + big + "\r\nUID:after\r\nEND:VCARD\r\n", "after", false},
		{"UID too long is not recorded", "BEGIN:VCARD\r\nUID:" + big + "\r\nEND:VCARD\r\n", "", false},
		{"BOM", "\ufeffBEGIN:VCARD\r\nUID:b\r\nEND:VCARD", "b", false},
		{"two cards", "BEGIN:VCARD\r\nUID:1\r\nEND:VCARD\r\nBEGIN:VCARD\r\nUID:2\r\nEND:VCARD\r\n", "1", false},
		{"not a vCard", "hello\n", "", true},
		{"truncated", "BEGIN:VCARD\r\nUID:t\r\n", "t", true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time: state must carry across writes.
			v := &vcardScan{}
			if _, err := io.Copy(v, iotest.OneByteReader(strings.NewReader(tt.in))); err != nil {
				t.Fatal(err)
			}
			got := v.finish()
			if got.UID != tt.uid || got.Malformed != tt.malformed {
				t.Errorf("got %+v, want uid %q malformed %v", got, tt.uid, tt.malformed)
			}
			if cap(v.cur) > 2*maxLine {
				t.Errorf("line buffer grew to %d", cap(v.cur))
			}
		})
	}
}

func TestDecodeOpLs(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // fileName=etag
		err      string
	}{
		{"ok", `{"list":[{"fileName":"a.vcf","etag":"1"},{"fileName":"b.vcf","etag":"2","size":5}],"other":{"x":[1]}}`, []string{"a.vcf=1", "b.vcf=2"}, ""},
		{"empty list", `{"list":[]}`, nil, ""},
		{"list first, fields after", `{"list":[],"total":0}`, nil, ""},
		{"broken", `{"list":[{"fileName":"a.vcf"`, nil, "list[0]"},
		{"not object", `[]`, nil, "want a JSON object"},
		{"list not array", `{"list":{}}`, nil, "not an array"},
		{"missing list", `{"lst":[]}`, nil, `no "list"`},
		{"no fileName", `{"list":[{"etag":"1"}]}`, nil, "no fileName"},
		{"fileName not string", `{"list":[{"fileName":5}]}`, nil, "list[0]"},
		{"garbage after", `{"list":[]}x`, nil, "bad JSON"},
		{"empty body", ``, nil, "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := decodeOpLs(strings.NewReader(tt.in), func(n, e string) error { got = append(got, n+"="+e); return nil })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestCheckFileName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a.vcf": true, "weird name #1?.vcf": true, "Контакт.vcf": true, "..a.vcf": true,
		"": false, ".": false, "..": false, "a/b.vcf": false, `a\b.vcf`: false, "../x.vcf": false, "a\x00.vcf": false, "a\n.vcf": false,
	} {
		if err := checkFileName(name); (err == nil) != ok {
			t.Errorf("checkFileName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	for _, tt := range []struct {
		size, limit int
		tooLarge    bool
	}{{10, 10, false}, {11, 10, true}, {0, 10, false}, {1 << 20, 1000, true}} {
		n, err := io.Copy(io.Discard, &sizeLimit{r: strings.NewReader(strings.Repeat("x", tt.size)), n: int64(tt.limit)})
		if errors.Is(err, errTooLarge) != tt.tooLarge || (!tt.tooLarge && n != int64(tt.size)) {
			t.Errorf("size %d limit %d: n %d err %v", tt.size, tt.limit, n, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		err    string
	}{
		{"defaults", func(*Config) {}, ""},
		{"discover with propfind", func(c *Config) { c.Home = "" }, ""},
		{"ls without home", func(c *Config) { c.Home, c.Listing = "", ListOpLs }, "needs home"},
		{"relative home", func(c *Config) { c.Home = "addressbook/{email}/" }, "absolute path"},
		{"bad auth", func(c *Config) { c.Auth = "digest" }, "auth"},
		{"bad listing", func(c *Config) { c.Listing = "report" }, "listing"},
		{"creds in URL", func(c *Config) { c.URL = "https://u:p@carddav.yandex.ru/" }, "credentials"},
		{"bad glob", func(c *Config) { c.ExcludeBooks = []string{"["} }, "glob"},
		{"zero max size", func(c *Config) { c.MaxContactSize = 0 }, "max_contact_size"},
	}
	for _, tt := range tests {
		c := NewConfig()
		tt.mutate(&c)
		err := c.Validate()
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.err)
		}
	}
	c := NewConfig()
	c.ExcludeBooks = []string{"Общие*"}
	if c.selected("2", "Общие контакты") || !c.selected("1", "Личные") {
		t.Error("exclude by display name")
	}
}

func FuzzDecodeOpLs(f *testing.F) {
	for _, s := range []string{`{"list":[{"fileName":"a.vcf","etag":"1"}]}`, `{"list":[]}`, `{"list":[{"fileName":"../x","etag":1}]}`, `[`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := decodeOpLs(strings.NewReader(string(b)), func(name, etag string) error {
			n++
			return checkFileName(name)
		})
		if err == nil && n > len(b) {
			t.Fatalf("%d entries from %d bytes", n, len(b))
		}
	})
}

func FuzzVCardScan(f *testing.F) {
	for _, s := range []string{"BEGIN:VCARD\r\nUID:a\r\n b\r\nEND:VCARD\r\n", "UID:\n\n \n", "\ufeffBEGIN:VCARD\nEND:VCARD"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := &vcardScan{}
		v.Write(b)
		info := v.finish()
		if len(info.UID) > maxLine || cap(v.cur) > 2*maxLine {
			t.Fatalf("uid %d bytes, buffer %d", len(info.UID), cap(v.cur))
		}
	})
}
