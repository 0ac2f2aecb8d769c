package dav

import "testing"

func TestSameETag(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`"abc"`, `"abc"`, true},
		{`"abc"`, `abc`, true},
		{`W/"abc"`, `"abc"`, true},
		{`"abc"`, `"abd"`, false},
		{``, ``, false}, // unknown etags never match: fetch
	}
	for _, tc := range tests {
		if got := SameETag(tc.a, tc.b); got != tc.want {
			t.Errorf("SameETag(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestRelName(t *testing.T) {
	tests := []struct {
		dir, child, want string
		ok               bool
	}{
		{"/calendars/u@x/", "/calendars/u@x/events-default/", "events-default", true},
		{"/calendars/u@x/", "/calendars/u@x/events-default/1.ics", "events-default/1.ics", true},
		{"/calendars/u@x/", "/calendars/u@x/", "", false},
		{"/calendars/u@x/", "/other/", "", false},
	}
	for _, tc := range tests {
		got, ok := RelName(tc.dir, tc.child)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RelName(%q, %q) = %q %v", tc.dir, tc.child, got, ok)
		}
	}
}

func TestDAVCondition(t *testing.T) {
	tests := []struct{ body, want string }{
		{`<?xml version='1.0' encoding='utf-8'?>` + "\n" + `<error xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><C:no-uid-conflict /></error>`, "no-uid-conflict"},
		{`<D:error xmlns:D="DAV:"><D:resource-must-be-null/></D:error>`, "resource-must-be-null"},
		{"Precondition failed.", ""},
		{`<html><body>no</body></html>`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := Condition([]byte(tt.body)); got != tt.want {
			t.Errorf("Condition(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

func TestQuoteETag(t *testing.T) {
	for in, want := range map[string]string{`abc`: `"abc"`, `"abc"`: `"abc"`, `W/"abc"`: `W/"abc"`} {
		if got := QuoteETag(in); got != want {
			t.Errorf("QuoteETag(%s) = %s, want %s", in, got, want)
		}
	}
}
