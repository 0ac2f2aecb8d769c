package calendar

import (
	"context"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestStoreSkipsTooLarge(t *testing.T) {
	ctx := context.Background()
	st := sourcetest.New()
	c, err := st.Open(ctx, "cal")
	if err != nil {
		t.Fatal(err)
	}
	s := &session{st: st}
	if err := s.store(ctx, c, member{ID: "big.ics", Href: "/c/big.ics"}, fetched{data: make([]byte, maxObjectSize+1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.store(ctx, c, member{ID: "ok.ics", Href: "/c/ok.ics"}, fetched{data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), etag: `"1"`}); err != nil {
		t.Fatal(err)
	}
	if len(st.Skips) != 1 || !strings.HasPrefix(st.Skips[0], "cal/big.ics: too-large") {
		t.Errorf("skips = %v", st.Skips)
	}
	if _, ok := c.Get("big.ics"); ok || c.Len() != 1 || st.BodyPuts != 1 {
		t.Errorf("too-large object stored: len %d, body puts %d", c.Len(), st.BodyPuts)
	}
}
