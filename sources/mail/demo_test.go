package mail

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/sources/sourcetest"
)

func TestDemoSmoke(t *testing.T) {
	srv := startDemo(t, nil)
	email := "smoke@example.org"
	date := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := 0; i < 5; i++ {
		mustAppend(t, srv, email, "INBOX", message("m"+string(rune('a'+i)), "hi", "body"), date, imap.FlagSeen)
	}
	st := sourcetest.New()
	backup(t, demoSource(srv), email, st)
	got := itemsByUID(t, st, "INBOX")
	if len(got) != 5 {
		t.Fatalf("got %d items, want 5: %v", len(got), got)
	}
	t.Logf("%+v", got[1])
}
