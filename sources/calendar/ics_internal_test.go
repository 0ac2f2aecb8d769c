package calendar

import "testing"

func TestScanICS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want icsInfo
	}{
		{"event", "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:abc@yandex.ru\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			icsInfo{UID: "abc@yandex.ru", Component: "VEVENT"}},
		{"folded UID, LF only, lower case", "begin:vcalendar\nbegin:vtodo\nuid:very-long\n -uid-continued\nend:vtodo\nend:vcalendar\n",
			icsInfo{UID: "very-long-uid-continued", Component: "VTODO"}},
		{"UID with a parameter and quoted colon", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID;X-P=\"a:b\":u1\r\nEND:VEVENT\r\nEND:VCALENDAR", icsInfo{UID: "u1", Component: "VEVENT"}},
		{"BOM", "\xef\xbb\xbfBEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n", icsInfo{Component: "VJOURNAL"}},
		{"not iCalendar", "<html>502 Bad Gateway</html>", icsInfo{Malformed: true}},
		{"truncated", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", icsInfo{UID: "x", Component: "VEVENT", Malformed: true}},
		{"empty", "", icsInfo{Malformed: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scanICS([]byte(tc.in)); got != tc.want {
				t.Errorf("scanICS = %+v, want %+v", got, tc.want)
			}
		})
	}
}
