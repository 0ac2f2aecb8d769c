package mail

import (
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestDecodeMailbox(t *testing.T) {
	tests := []struct{ in, want string }{
		{"INBOX", "INBOX"},
		{"inbox", "INBOX"},
		{"Sent", "Sent"},
		{"&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные"},
		{"&BBAEQARFBDgEMg-|2024", "Архив|2024"},
		{"R&-D", "R&D"},
		{"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"},
		// Yandex's known defect: '&' not escaped. Kept as sent.
		{"R&D", "R&D"},
		{"A&B-C", "A&B-C"},             // "&B-" is not valid base64 UTF-16
		{"Tom & Jerry", "Tom & Jerry"}, // unterminated
		{"&AGEAYgBj-", "&AGEAYgBj-"},   // ASCII must not be encoded: not decoded
	}
	for _, tt := range tests {
		if got := decodeMailbox(tt.in); got != tt.want {
			t.Errorf("decodeMailbox(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseListLine(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		attrs   []imap.MailboxAttr
		literal int
		err     bool
	}{
		{`(\HasNoChildren) "/" INBOX`, "INBOX", []imap.MailboxAttr{`\HasNoChildren`}, -1, false},
		{`(\HasNoChildren \Sent) "|" "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"`, "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", []imap.MailboxAttr{`\HasNoChildren`, `\Sent`}, -1, false},
		{`() "." "a \"quoted\" \\ name"`, `a "quoted" \ name`, nil, -1, false},
		{`(\Noselect) NIL Archive`, "Archive", []imap.MailboxAttr{`\Noselect`}, -1, false},
		{`() "\\" back`, "back", nil, -1, false},
		{`() "/" {12}`, "", nil, 12, false},
		{`() "/" {7+}`, "", nil, 7, false},
		{`() "/" Work ("CHILDINFO" ("SUBSCRIBED"))`, "Work", nil, -1, false},
		{`\HasNoChildren "/" x`, "", nil, -1, true},
		{`() "/"`, "", nil, -1, true},
		{`() "/" "unterminated`, "", nil, -1, true},
		{`() "/" {x}`, "", nil, -1, true},
	}
	for _, tt := range tests {
		f, lit, err := parseListLine(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("parseListLine(%q) error %v", tt.in, err)
			continue
		}
		if err != nil {
			continue
		}
		if f.name != tt.name || lit != tt.literal || !reflect.DeepEqual(f.attrs, tt.attrs) {
			t.Errorf("parseListLine(%q) = %q %v literal %d", tt.in, f.name, f.attrs, lit)
		}
	}
}

func TestListConversation(t *testing.T) {
	steps := []string{
		"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready",
		"C: L1 AUTHENTICATE XOAUTH2 " + encodeSASL([]byte("user=a@x\x01auth=Bearer T\x01\x01")),
		"S: L1 OK Logged in",
		`C: L2 LIST "" "*"`,
		`S: * LIST (\HasNoChildren) "|" INBOX`,
		`S: * LIST (\Noselect \HasChildren) "|" Archives`,
		`S: * LIST (\HasNoChildren) "|" {12}`,
		"S: Archives|R&D",
		`S: * LIST (\HasNoChildren \Junk) "|" "&BCEEPwQwBDw-"`,
		`S: * LIST (\NonExistent) "|" Gone`,
		"S: * OK still here",
		"S: L2 OK LIST Completed.",
	}
	var res loginResult
	err := runScript(t, steps, func(c net.Conn) error {
		var err error
		res, err = login(Config{Security: SecurityPlain}, c, "a@x", "T", true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range res.folders {
		names = append(names, f.name)
	}
	if want := []string{"INBOX", "Archives|R&D", "Спам"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("folders = %q, want %q", names, want)
	}
	if !res.folders[2].hasAttr(`\junk`) {
		t.Fatalf("attributes lost: %v", res.folders[2].attrs)
	}
}

// A folder name Yandex sends in broken modified UTF-7 must not stop the
// backup of the other folders.
func TestBrokenUTF7FolderName(t *testing.T) {
	var mu sync.Mutex
	var examined []string
	addr := startFake(t, okGreeting, goodLogin(func(tag, cmd string) (string, bool) {
		switch {
		case strings.HasPrefix(cmd, "LIST"):
			return "* LIST (\\HasNoChildren) \"|\" INBOX\r\n* LIST (\\HasNoChildren) \"|\" \"R&D\"\r\n" + tag + " OK LIST done\r\n", false
		case strings.HasPrefix(cmd, "EXAMINE"):
			mu.Lock()
			examined = append(examined, cmd)
			mu.Unlock()
			if strings.Contains(cmd, "R&") && !strings.Contains(cmd, `"R&-D"`) {
				return tag + " BAD bad mailbox name\r\n", false
			}
			return "* 0 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n* OK [UIDNEXT 1] ok\r\n" + tag + " OK [READ-ONLY] done\r\n", false
		}
		return tag + " BAD unexpected\r\n", false
	}))
	err, st := fakeBackup(t, addr)
	if err != nil {
		t.Fatalf("backup failed: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(examined) != 2 || !strings.Contains(examined[1], `"R&-D"`) {
		t.Fatalf("EXAMINE commands: %q (want the folder re-encoded as R&-D)", examined)
	}
	if c := st.Containers(); !reflect.DeepEqual(c, []string{"INBOX", "R&D"}) || len(st.Failures) != 0 {
		t.Fatalf("containers %q, failures %q", c, st.Failures)
	}
}
