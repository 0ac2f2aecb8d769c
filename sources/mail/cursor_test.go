package mail

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestCursorEncoding(t *testing.T) {
	tests := []struct {
		name string
		c    cursor
		json string
	}{
		{"plain", cursor{UIDValidity: 1700000000, LastUID: 42}, `{"uidvalidity":1700000000,"last_uid":42}`},
		{"condstore", cursor{UIDValidity: 7, LastUID: 9, HighestModSeq: 1234567890123}, `{"uidvalidity":7,"last_uid":9,"highest_modseq":1234567890123}`},
		{"failed", cursor{UIDValidity: 7, LastUID: 9, Failed: []uint32{3, 5}}, `{"uidvalidity":7,"last_uid":9,"failed":[3,5]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.json {
				t.Fatalf("marshal = %s, want %s", b, tt.json)
			}
			got, ok := decodeCursor(b)
			if !ok || !reflect.DeepEqual(got, tt.c) {
				t.Fatalf("decode = %+v, %v; want %+v", got, ok, tt.c)
			}
		})
	}
	for _, bad := range []string{"", "null", "{", `{"last_uid":3}`, `"x"`} {
		if c, ok := decodeCursor(json.RawMessage(bad)); ok {
			t.Errorf("decodeCursor(%q) = %+v, ok; want not ok", bad, c)
		}
	}
}

func TestCursorFailedList(t *testing.T) {
	var c cursor
	for _, uid := range []imap.UID{9, 3, 5, 3, 12} {
		c.addFailed(uid)
	}
	if want := []uint32{3, 5, 9, 12}; !reflect.DeepEqual(c.Failed, want) {
		t.Fatalf("Failed = %v, want %v", c.Failed, want)
	}
	if !c.isFailed(5) || c.isFailed(4) || c.isFailed(13) {
		t.Fatal("isFailed wrong")
	}
	cl := c.clone()
	c.removeFailed(5)
	c.removeFailed(100)
	if want := []uint32{3, 9, 12}; !reflect.DeepEqual(c.Failed, want) {
		t.Fatalf("after remove Failed = %v, want %v", c.Failed, want)
	}
	if len(cl.Failed) != 4 {
		t.Fatal("clone shares the failed list")
	}
	for _, uid := range []imap.UID{3, 9, 12} {
		c.removeFailed(uid)
	}
	if c.Failed != nil {
		t.Fatalf("empty list should be nil (omitted), got %v", c.Failed)
	}
}

func TestItemID(t *testing.T) {
	id := itemID(1700000001, 42)
	if id != "1700000001/42" {
		t.Fatalf("itemID = %q", id)
	}
	v, uid, ok := parseItemID(id)
	if !ok || v != 1700000001 || uid != 42 {
		t.Fatalf("parseItemID = %d %d %v", v, uid, ok)
	}
	for _, bad := range []string{"", "42", "a/b", "0/3", "3/0", "1/2/3", "99999999999/1"} {
		if _, _, ok := parseItemID(bad); ok {
			t.Errorf("parseItemID(%q) ok", bad)
		}
	}
}

func TestCanonicalFlags(t *testing.T) {
	got := canonicalFlags([]imap.Flag{`\SEEN`, "$Forwarded", `\Recent`, `\flagged`, `\Seen`, "Junk"})
	want := []string{"$Forwarded", "Junk", `\Flagged`, `\Seen`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("canonicalFlags = %v, want %v", got, want)
	}
	if f := canonicalFlags(nil); f == nil || len(f) != 0 {
		t.Fatalf("no flags must encode as [] not null: %#v", f)
	}
	if !equalFlags(want, append([]string(nil), want...)) || equalFlags(want, want[:3]) {
		t.Fatal("equalFlags wrong")
	}
}

func TestMetaEncoding(t *testing.T) {
	m := meta{UID: 7, Flags: []string{`\Seen`}, Date: formatDate(time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3*3600))), Size: 1234, MessageID: "abc@x"}
	want := `{"uid":7,"flags":["\\Seen"],"date":"2025-01-02T03:04:05+03:00","size":1234,"message_id":"abc@x"}`
	if got := string(m.encode()); got != want {
		t.Fatalf("meta = %s, want %s", got, want)
	}
	back, err := decodeMeta(m.encode())
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("decode = %+v %v", back, err)
	}
}

func TestUIDHelpers(t *testing.T) {
	var set imap.UIDSet
	set.AddRange(3, 5)
	set.AddNum(9)
	set.AddRange(20, 21)
	it := &uidIter{set: set}
	var batches [][]imap.UID
	for b := it.take(2); len(b) > 0; b = it.take(2) {
		batches = append(batches, b)
	}
	want := [][]imap.UID{{3, 4}, {5, 9}, {20, 21}}
	if !reflect.DeepEqual(batches, want) {
		t.Fatalf("batches = %v, want %v", batches, want)
	}
	if n := countUIDs(set); n != 6 {
		t.Fatalf("countUIDs = %d", n)
	}
	// "n:*" semantics: a SEARCH for 10:* on a folder whose highest UID is 9
	// answers 9; it must not count as new.
	if got := above(imap.UIDSetNum(9), 9); len(got) != 0 {
		t.Fatalf("above(9, 9) = %v, want empty", got)
	}
	if got := above(set, 4); got.String() != "5,9,20:21" {
		t.Fatalf("above(set, 4) = %v", got)
	}
	it = &uidIter{set: imap.UIDSet{{Start: 4294967294, Stop: 4294967295}}}
	if got := it.take(10); !reflect.DeepEqual(got, []imap.UID{4294967294, 4294967295}) {
		t.Fatalf("take at the top of the UID space = %v", got)
	}
}

func TestRematchIndex(t *testing.T) {
	st := sourcetest.New()
	ctx := t.Context()
	c, _ := st.Open(ctx, "INBOX")
	date := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	add := func(uid uint32, hash string, size int64, msgID string) {
		m := meta{UID: uid, Flags: []string{}, Date: formatDate(date.In(time.FixedZone("", 3*3600))), Size: size, MessageID: msgID}
		c.Put(sources.Item{ID: itemID(1, imap.UID(uid)), Hash: hash, Size: size, Meta: m.encode()})
	}
	add(1, "h1", 100, "a@x")
	add(2, "h2", 100, "a@x") // same triple twice: both must be matchable once
	add(3, "h3", 200, "b@x")
	add(4, "h4", 300, "") // no Message-Id: never matched
	ix := buildRematch(c, nil)
	if ix.len() != 3 {
		t.Fatalf("index has %d entries, want 3", ix.len())
	}
	tests := []struct {
		size  int64
		date  time.Time
		msgID string
		ok    bool
	}{
		{200, date, "b@x", true},
		{200, date, "b@x", false},                  // consumed
		{100, date.In(time.UTC), "a@x", true},      // zone does not matter
		{100, date, "a@x", true},                   // the duplicate
		{100, date, "a@x", false},                  // both used
		{300, date, "", false},                     // no Message-Id
		{100, date.Add(time.Second), "a@x", false}, // other date
		{201, date, "b@x", false},                  // other size
	}
	seen := map[string]bool{}
	for i, tt := range tests {
		b, ok := ix.take(tt.size, tt.date, tt.msgID)
		if ok != tt.ok {
			t.Fatalf("case %d: take ok = %v, want %v", i, ok, tt.ok)
		}
		if ok {
			if seen[b.hash] {
				t.Fatalf("case %d: hash %s handed out twice", i, b.hash)
			}
			seen[b.hash] = true
			if b.size != tt.size {
				t.Fatalf("case %d: size %d", i, b.size)
			}
		}
	}
	if ix.len() != 0 {
		t.Fatalf("index not empty: %d", ix.len())
	}
}
