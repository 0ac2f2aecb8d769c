package mail

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/sources"
)

func TestEncodeMailbox(t *testing.T) {
	tests := []struct{ in, want string }{
		{"INBOX", "INBOX"},
		{"inbox", "INBOX"},
		{"Archive|2017", "Archive|2017"},
		{"R&D", "R&-D"},
		{"Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
		{"Спам", "&BCEEPwQwBDw-"},
		{"Проекты/Архив 2017", "&BB8EQAQ+BDUEOgRCBEs-/&BBAEQARFBDgEMg- 2017"},
		{"日本語", "&ZeVnLIqe-"},
		{"mixed Ä&ö", "mixed &AMQ-&-&APY-"},
		{"emoji 📬", "emoji &2D3c7A-"}, // a surrogate pair
		{"tab\there", "tab&AAk-here"},
	}
	for _, tt := range tests {
		got := encodeMailbox(tt.in)
		if got != tt.want {
			t.Errorf("encodeMailbox(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back := decodeMailbox(got); back != tt.in && !strings.EqualFold(tt.in, "INBOX") {
			t.Errorf("decodeMailbox(%q) = %q, want %q back", got, back, tt.in)
		}
	}
}

func TestQuoteArg(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Archive", `"Archive"`, true},
		{`a "b" \c`, `"a \"b\" \\c"`, true},
		{"line\r\nbreak", "", false},
		{"Привет", "", false},
	}
	for _, tt := range tests {
		got, ok := quoteArg(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("quoteArg(%q) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got, err := mailboxArg("Проекты"); err != nil || got != `"&BB8EQAQ+BDUEOgRCBEs-"` {
		t.Errorf("mailboxArg of a UTF-8 name = %q, %v", got, err)
	}
}

// pipeSession is a restorer and a hand-driven session on one end of a
// net.Pipe, for conversations with runScript.
func pipeSession(c net.Conn, caps string, window int, items []sources.RestoreItem) (*restorer, *wconn, *[]string) {
	dc := newDeadlineConn(c, 5*time.Second)
	w := &wconn{dc: dc, stop: func() bool { return true }, br: bufio.NewReaderSize(dc, 64<<10), bw: bufio.NewWriterSize(dc, 64<<10), caps: caps}
	dc.begin()
	var failed []string
	src := New(Config{Addr: "pipe:1", AppendPipeline: window})
	rs := newRestorer(src, userFor("a@example.org"), tokensFor("a@example.org"),
		sources.RestoreTarget{Original: "INBOX", Policy: sources.PolicySkip}, items,
		func(id string, err error) { failed = append(failed, id+": "+err.Error()) })
	return rs, w, &failed
}

func memItem(id, body string, flags ...string) sources.RestoreItem {
	sum := sha256.Sum256([]byte(body))
	m := meta{UID: 1, Flags: flags, Date: baseDate.Format(time.RFC3339), Size: int64(len(body))}
	return sources.RestoreItem{
		Item: sources.Item{ID: id, Hash: hex.EncodeToString(sum[:]), Size: int64(len(body)), Meta: m.encode()},
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil },
	}
}

func TestAppendConversations(t *testing.T) {
	date := `"04-Mar-2025 05:06:07 +0300"`
	tests := []struct {
		name    string
		caps    string
		window  int
		items   []sources.RestoreItem
		steps   []string
		written int
		failed  string
	}{
		{
			name: "LITERAL+ pipelined two deep", caps: "IMAP4rev1 LITERAL+", window: 2,
			items: []sources.RestoreItem{memItem("1/1", "one", `\Seen`, `\Recent`), memItem("1/2", "two"), memItem("1/3", "three", "$Forwarded")},
			steps: []string{
				`C: R1 APPEND INBOX (\Seen) ` + date + " {3+}\r\none",
				`C: R2 APPEND INBOX ` + date + " {3+}\r\ntwo",
				"S: * 1 EXISTS",
				"S: R1 OK [APPENDUID 7 1] done",
				`C: R3 APPEND INBOX ($Forwarded) ` + date + " {5+}\r\nthree",
				"S: R2 OK [APPENDUID 7 2] done",
				"S: * 3 EXISTS",
				"S: R3 OK [APPENDUID 7 3] done",
			},
			written: 3,
		},
		{
			name: "synchronizing literals without LITERAL+", caps: "IMAP4rev1", window: 8,
			items: []sources.RestoreItem{memItem("1/1", "one"), memItem("1/2", "two")},
			steps: []string{
				`C: R1 APPEND INBOX ` + date + " {3}",
				"S: + go ahead",
				"C: one",
				`C: R2 APPEND INBOX ` + date + " {3}",
				"S: R1 OK done", // the answer to R1 arrives while R2 waits for its go-ahead
				"S: + go ahead",
				"C: two",
				"S: R2 OK done",
			},
			written: 2,
		},
		{
			name: "refused before the literal", caps: "IMAP4rev1", window: 1,
			items: []sources.RestoreItem{memItem("1/1", "big one"), memItem("1/2", "two")},
			steps: []string{
				`C: R1 APPEND INBOX ` + date + " {7}",
				"S: R1 NO [TOOBIG] too big",
				`C: R2 APPEND INBOX ` + date + " {3}",
				"S: + go ahead",
				"C: two",
				"S: R2 OK done",
			},
			written: 1, failed: "1/1: APPEND: imap: NO [TOOBIG] too big",
		},
		{
			name: "LITERAL- only up to 4096 bytes", caps: "IMAP4rev1 LITERAL-", window: 1,
			items: []sources.RestoreItem{memItem("1/1", "tiny")},
			steps: []string{
				`C: R1 APPEND INBOX ` + date + " {4+}\r\ntiny",
				"S: R1 OK done",
			},
			written: 1,
		},
		{
			name: "APPENDLIMIT respected", caps: "IMAP4rev1 LITERAL+ APPENDLIMIT=4", window: 1,
			items: []sources.RestoreItem{memItem("1/1", "12345"), memItem("1/2", "1234")},
			steps: []string{
				`C: R1 APPEND INBOX ` + date + " {4+}\r\n1234",
				"S: R1 OK done",
			},
			written: 1, failed: "1/1: message of 5 bytes is larger than the server accepts (APPENDLIMIT=4)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs *restorer
			var failed *[]string
			err := runScript(t, tt.steps, func(c net.Conn) error {
				var w *wconn
				rs, w, failed = pipeSession(c, tt.caps, tt.window, tt.items)
				idx := make([]int, len(tt.items))
				for i := range idx {
					idx[i] = i
				}
				return rs.appendAll(context.Background(), w, "INBOX", permFlags{}, idx)
			})
			if err != nil {
				t.Fatal(err)
			}
			if rs.written != tt.written || rs.left != 0 {
				t.Errorf("written %d, left %d; want %d written, none left", rs.written, rs.left, tt.written)
			}
			if got := strings.Join(*failed, "; "); got != tt.failed {
				t.Errorf("failures %q, want %q", got, tt.failed)
			}
		})
	}
}

// The literal's last chunk is held back until the stored body has ended
// cleanly with the recorded size.
func TestStoredBody(t *testing.T) {
	big := strings.Repeat("x", 2*bodyChunk+10)
	tests := []struct {
		name    string
		body    io.Reader
		size    int64
		openErr bool // detected before anything is sent
		sent    int  // bytes written before the failure (-1: success)
	}{
		{"small ok", strings.NewReader("hello"), 5, false, -1},
		{"small corrupt", &corruptAfter{r: strings.NewReader("hello")}, 5, true, 0},
		{"small short", strings.NewReader("hell"), 5, true, 0},
		{"small long", strings.NewReader("hello!"), 5, true, 0},
		{"big ok", strings.NewReader(big), int64(len(big)), false, -1},
		{"big corrupt", &corruptAfter{r: strings.NewReader(big)}, int64(len(big)), false, 2 * bodyChunk},
		{"big short", strings.NewReader(big[:len(big)-1]), int64(len(big)), false, 2 * bodyChunk},
		{"big long", strings.NewReader(big + "!"), int64(len(big)), false, 2 * bodyChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := sources.RestoreItem{Item: sources.Item{ID: "1/1", Size: tt.size},
				Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(tt.body), nil }}
			b, err := openBody(context.Background(), it, &chunks{})
			if (err != nil) != tt.openErr {
				t.Fatalf("openBody: %v", err)
			}
			if err != nil {
				return
			}
			var out strings.Builder
			err = b.sendTo(&out)
			if tt.sent < 0 {
				if err != nil || int64(out.Len()) != tt.size {
					t.Fatalf("sendTo: %v, %d bytes", err, out.Len())
				}
				return
			}
			var se *sourceError
			if !errors.As(err, &se) || out.Len() > tt.sent || int64(out.Len()) >= tt.size {
				t.Fatalf("sendTo: %v after %d bytes; want a source error with at most %d of %d bytes sent", err, out.Len(), tt.sent, tt.size)
			}
		})
	}
}

func TestDestinationConversations(t *testing.T) {
	const under = "Restored 2026-11-25 12.00"
	slash := func(names ...string) []folder {
		var out []folder
		for _, n := range names {
			f := folder{name: decodeMailbox(n), raw: n, delim: "/"}
			if strings.HasSuffix(n, "!") {
				f.name, f.raw, f.attrs = strings.TrimSuffix(f.name, "!"), strings.TrimSuffix(n, "!"), []imap.MailboxAttr{imap.MailboxAttrNoSelect}
			}
			out = append(out, f)
		}
		return out
	}
	tests := []struct {
		name   string
		listed []folder
		target sources.RestoreTarget
		steps  []string
		want   string
	}{
		{
			name: "in place INBOX", listed: slash("INBOX"), target: sources.RestoreTarget{Original: "INBOX"}, want: "INBOX",
		},
		{
			name: "in place under a \\Noselect parent", listed: slash("INBOX", "Archive!"), target: sources.RestoreTarget{Original: "Archive/2017"},
			steps: []string{`C: R1 CREATE "Archive/2017"`, "S: R1 OK created"},
			want:  "Archive/2017",
		},
		{
			name: "in place, existing", listed: slash("INBOX", "&BB8EQAQ+BDUEOgRCBEs-"), target: sources.RestoreTarget{Original: "Проекты"},
			want: "&BB8EQAQ+BDUEOgRCBEs-",
		},
		{
			name: "dots refused: ':' instead", listed: slash("INBOX"), target: sources.RestoreTarget{Original: "Archive/2017", Under: under},
			steps: []string{
				`C: R1 CREATE "Restored 2026-11-25 12.00"`,
				"S: R1 NO [CANNOT] Character not allowed in mailbox name: '.'",
				`C: R2 CREATE "Restored 2026-11-25 12:00"`,
				"S: R2 OK",
				`C: R3 CREATE "Restored 2026-11-25 12:00/Archive"`,
				"S: R3 OK",
				`C: R4 CREATE "Restored 2026-11-25 12:00/Archive/2017"`,
				"S: R4 NO [ALREADYEXISTS] Mailbox already exists",
			},
			want: "Restored 2026-11-25 12:00/Archive/2017",
		},
		{
			name:   "rerun finds the ':' form",
			listed: slash("INBOX", "Restored 2026-11-25 12:00", "Restored 2026-11-25 12:00/&BB8EQAQ+BDUEOgRCBEs-"),
			target: sources.RestoreTarget{Original: "Проекты/Sub", Under: under},
			steps:  []string{`C: R1 CREATE "Restored 2026-11-25 12:00/&BB8EQAQ+BDUEOgRCBEs-/Sub"`, "S: R1 OK"},
			want:   "Restored 2026-11-25 12:00/&BB8EQAQ+BDUEOgRCBEs-/Sub",
		},
		{
			name:   "INBOX under the Restored folder, Yandex delimiter",
			listed: []folder{{name: "INBOX", raw: "INBOX", delim: "|"}},
			target: sources.RestoreTarget{Original: "INBOX", Under: under},
			steps: []string{
				`C: R1 CREATE "Restored 2026-11-25 12.00"`, "S: R1 OK",
				`C: R2 CREATE "Restored 2026-11-25 12.00|INBOX"`, "S: R2 OK",
			},
			want: "Restored 2026-11-25 12.00|INBOX",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			err := runScript(t, tt.steps, func(c net.Conn) error {
				rs, w, _ := pipeSession(c, "IMAP4rev1", 1, nil)
				rs.t = tt.target
				w.listed = tt.listed
				var err error
				got, err = rs.destination(w)
				return err
			})
			if err != nil || got != tt.want {
				t.Fatalf("destination = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseListDelimiter(t *testing.T) {
	tests := []struct{ in, delim string }{
		{`(\HasNoChildren) "/" INBOX`, "/"},
		{`() "|" "Archive|2017"`, "|"},
		{`() "\\" back`, `\`},
		{`() "." x`, "."},
		{`(\Noselect) NIL Archive`, ""},
	}
	for _, tt := range tests {
		f, _, err := parseListLine(tt.in)
		if err != nil || f.delim != tt.delim {
			t.Errorf("parseListLine(%q): delimiter %q, %v; want %q", tt.in, f.delim, err, tt.delim)
		}
	}
}
