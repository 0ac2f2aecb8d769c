package dav

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCopyName(t *testing.T) {
	taken := map[string]bool{"a.ics": true, "a-restored-1.ics": true, "b": true}
	tests := []struct{ in, want string }{
		{"a.ics", "a-restored-2.ics"},
		{"b", "b-restored-1"},
		{"c.d.ics", "c.d-restored-1.ics"},
	}
	for _, tt := range tests {
		if got := CopyName(tt.in, func(n string) bool { return taken[n] }); got != tt.want {
			t.Errorf("CopyName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRewriteUID(t *testing.T) {
	long := "event-" + strings.Repeat("x", 80) + "@yandex.ru"
	tests := []struct {
		name, in, old, uid, want string
	}{
		{
			"master and override, alarm UID kept, CRLF kept",
			"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u1\r\nSUMMARY:UID:u1\r\nBEGIN:VALARM\r\nUID:alarm-1\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
				"BEGIN:VEVENT\r\nUID:u1\r\nRECURRENCE-ID:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			"u1", "u2",
			"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u2\r\nSUMMARY:UID:u1\r\nBEGIN:VALARM\r\nUID:alarm-1\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
				"BEGIN:VEVENT\r\nUID:u2\r\nRECURRENCE-ID:20260101T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		},
		{
			"LF line ends, lower-case name, parameters kept",
			"BEGIN:VTODO\nuid;X-A=\"b:c\":t1\nEND:VTODO\n", "t1", "t1-copy",
			"BEGIN:VTODO\nuid;X-A=\"b:c\":t1-copy\nEND:VTODO\n",
		},
		{
			"folded old UID replaced, long new UID folded at 75 octets",
			"BEGIN:VEVENT\r\nUID:event-" + strings.Repeat("x", 60) + "\r\n " + strings.Repeat("x", 20) + "@yandex.ru\r\nEND:VEVENT\r\n", long, long + "-2",
			"BEGIN:VEVENT\r\n" + "UID:" + (long + "-2")[:71] + "\r\n " + (long + "-2")[71:] + "\r\nEND:VEVENT\r\n",
		},
		{
			"other UID untouched, no trailing newline",
			"BEGIN:VEVENT\r\nUID:other\r\nEND:VEVENT", "u1", "u2",
			"BEGIN:VEVENT\r\nUID:other\r\nEND:VEVENT",
		},
	}
	for _, tt := range tests {
		got := string(RewriteUID([]byte(tt.in), tt.old, tt.uid))
		if got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestFoldKeepsUTF8AndLimit(t *testing.T) {
	s := "UID:" + strings.Repeat("ж", 100) // 2 octets each
	out := fold(s, "\r\n")
	for i, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line %d has %d octets", i, len(line))
		}
		if i > 0 && line[0] != ' ' {
			t.Errorf("continuation %d does not start with a space", i)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i, line)
		}
	}
	if got := string(unfold([]byte(out))); got != s {
		t.Errorf("unfold(fold(s)) = %q", got)
	}
}
