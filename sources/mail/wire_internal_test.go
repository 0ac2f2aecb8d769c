package mail

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func parseOne(s string) (*resp, error) {
	p := &parser{br: bufio.NewReaderSize(strings.NewReader(s), 64<<10), budget: maxResponse}
	return p.response()
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want resp
	}{
		{"continuation", "+ Ready for literal data\r\n", resp{tag: "+", text: "Ready for literal data"}},
		{"bare continuation", "+\r\n", resp{tag: "+"}},
		{"tagged OK with code", "R3 OK [APPENDUID 38505 3955] APPEND completed\r\n",
			resp{tag: "R3", status: "OK", code: "APPENDUID 38505 3955", text: "APPEND completed"}},
		{"tagged NO", "R4 NO [TOOBIG] Message too large\r\n", resp{tag: "R4", status: "NO", code: "TOOBIG", text: "Message too large"}},
		{"tagged without text", "R5 OK\r\n", resp{tag: "R5", status: "OK"}},
		{"bare LF", "R6 BAD oops\n", resp{tag: "R6", status: "BAD", text: "oops"}},
		{"permanentflags", "* OK [PERMANENTFLAGS (\\Seen \\Deleted $Forwarded \\*)] Limited\r\n",
			resp{tag: "*", status: "OK", code: `PERMANENTFLAGS (\Seen \Deleted $Forwarded \*)`, text: "Limited"}},
		{"bye", "* BYE Server shutting down\r\n", resp{tag: "*", status: "BYE", text: "Server shutting down"}},
		{"exists", "* 172 EXISTS\r\n", resp{tag: "*", num: 172, kind: "EXISTS"}},
		{"flags", "* FLAGS (\\Answered $Forwarded)\r\n", resp{tag: "*", kind: "FLAGS",
			args: []value{{kind: 'l', list: []value{{kind: 'a', s: `\Answered`}, {kind: 'a', s: "$Forwarded"}}}}}},
		{"capability", "* CAPABILITY IMAP4rev1 LITERAL+ APPENDLIMIT=100\r\n", resp{tag: "*", kind: "CAPABILITY",
			args: []value{{kind: 'a', s: "IMAP4rev1"}, {kind: 'a', s: "LITERAL+"}, {kind: 'a', s: "APPENDLIMIT=100"}}}},
		{"list with literal name", "* LIST () \"/\" {5}\r\nR&-D \r\n", resp{tag: "*", kind: "LIST",
			args: []value{{kind: 'l'}, {kind: 's', s: "/"}, {kind: 's', s: "R&-D "}}}},
		{"search empty", "* SEARCH\r\n", resp{tag: "*", kind: "SEARCH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseOne(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*r, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", *r, tt.want)
			}
		})
	}
}

func TestParseFetch(t *testing.T) {
	body := "Subject: x\r\n\r\nbody with ) and ( and \"quotes\"\r\n"
	sum := sha256.Sum256([]byte(body))
	tests := []struct {
		name string
		in   string
		want fetchData
	}{
		{"index", `* 3 FETCH (UID 17 RFC822.SIZE 2048 INTERNALDATE " 4-Mar-2025 05:06:07 +0300" ENVELOPE ("Mon, 02 Jan 2006 15:04:05 +0300" "Тема" ((NIL NIL "a" "example.org")) NIL NIL NIL NIL NIL NIL "<id-1@example.org>") FLAGS (\Seen $forwarded))` + "\r\n",
			fetchData{uid: 17, size: 2048, date: time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("", 3*3600)),
				flags: []string{`\Seen`, "$forwarded"}, msgID: "id-1@example.org", env: true}},
		{"subject as literal, no message-id", "* 1 FETCH (ENVELOPE (NIL {11}\r\nline\r\nbreak NIL NIL NIL NIL NIL NIL NIL NIL) UID 2 RFC822.SIZE 5)\r\n",
			fetchData{uid: 2, size: 5, env: true}},
		{"unparsable message-id", `* 1 FETCH (UID 3 ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL "not an id") RFC822.SIZE 9)` + "\r\n",
			fetchData{uid: 3, size: 9, env: true}},
		{"body literal hashed", "* 2 FETCH (UID 5 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + ")\r\n",
			fetchData{uid: 5, size: -1, hash: hex.EncodeToString(sum[:]), blen: int64(len(body))}},
		{"other items skipped", "* 2 FETCH (MODSEQ (12345) UID 6 BODY[HEADER.FIELDS (MESSAGE-ID)] {4}\r\nab\r\n X-GM-LABELS (\"a b\"))\r\n",
			fetchData{uid: 6, size: -1}},
		{"flags only", "* 4 FETCH (FLAGS () UID 8)\r\n", fetchData{uid: 8, size: -1, flags: []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseOne(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.kind != "FETCH" || r.fetch == nil {
				t.Fatalf("not a FETCH: %+v", r)
			}
			got := *r.fetch
			if !got.date.Equal(tt.want.date) {
				t.Errorf("date %v, want %v", got.date, tt.want.date)
			}
			got.date, tt.want.date = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	deep := "* X " + strings.Repeat("(", maxDepth+2) + strings.Repeat(")", maxDepth+2) + "\r\n"
	tests := []struct {
		name, in string
		budget   bool
	}{
		{"tagged data", "R1 FETCH (UID 1)\r\n", false},
		{"unterminated quote", "* X \"abc\r\n", false},
		{"bad literal", "* X {1x}\r\n", false},
		{"cut literal", "* X {10}\r\nabc", false},
		{"bad uid", "* 1 FETCH (UID abc)\r\n", false},
		{"bad date", "* 1 FETCH (INTERNALDATE \"yesterday\")\r\n", false},
		{"fetch without list", "* 1 FETCH UID 1\r\n", false},
		{"unterminated bracket", "* 1 FETCH (BODY[HEADER\r\n", false},
		{"too deep", deep, false},
		{"literal over budget", "* X {99999999}\r\n", true},
		{"eof", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseOne(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errBudget) != tt.budget {
				t.Fatalf("error %v (budget exceeded: %v)", err, errors.Is(err, errBudget))
			}
		})
	}
}

func TestPermFlags(t *testing.T) {
	tests := []struct {
		code    string
		keyword string
		want    bool
	}{
		{`(\Seen \*)`, "$Custom", true},
		{`(\Seen $Forwarded)`, "$forwarded", true},
		{`(\Seen $Forwarded)`, "$Custom", false},
		{`()`, "$Forwarded", false},
	}
	for _, tt := range tests {
		if got := parsePermFlags(tt.code).allows(tt.keyword); got != tt.want {
			t.Errorf("PERMANENTFLAGS %s allows %s = %v, want %v", tt.code, tt.keyword, got, tt.want)
		}
	}
	if !(permFlags{}).allows("$Anything") {
		t.Error("without PERMANENTFLAGS every keyword is permanent")
	}
}

func TestRestoreFlags(t *testing.T) {
	all := permFlags{}
	some := parsePermFlags(`(\Seen $Forwarded)`)
	tests := []struct {
		in   []string
		perm permFlags
		want []string
	}{
		{[]string{`\Recent`, `\seen`, `\Flagged`}, all, []string{`\Flagged`, `\Seen`}},
		{[]string{`\Deleted`, `\Draft`, `\Answered`, `\Junk`}, all, []string{`\Answered`, `\Deleted`, `\Draft`}},
		{[]string{"$Forwarded", "$Custom", `\Seen`}, some, []string{"$Forwarded", `\Seen`}},
		{[]string{"bad keyword", "a]b", "ok_1", "Ключ"}, all, []string{"ok_1"}},
		{nil, all, []string{}},
	}
	for _, tt := range tests {
		if got := restoreFlags(tt.in, tt.perm); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("restoreFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !sameFlagSet([]string{"$forwarded", `\Seen`, `\Recent`}, []string{`\seen`, "$Forwarded"}) {
		t.Error("flag sets differing only in case and \\Recent must be equal")
	}
	if sameFlagSet([]string{`\Seen`}, []string{`\Seen`, `\Flagged`}) {
		t.Error("different flag sets compared equal")
	}
}

func TestUIDSetString(t *testing.T) {
	tests := []struct {
		in   []uint32
		want string
	}{
		{[]uint32{5}, "5"},
		{[]uint32{3, 1, 2, 7, 9, 8, 11}, "1:3,7:9,11"},
		{[]uint32{4, 4, 5}, "4:5"},
	}
	for _, tt := range tests {
		if got := uidSetString(tt.in); got != tt.want {
			t.Errorf("uidSetString(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
