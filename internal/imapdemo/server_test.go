package imapdemo

import (
	"bufio"
	"encoding/base64"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

func validate(tok string) (string, bool) {
	email, ok := strings.CutPrefix(tok, "tok-")
	return email, ok
}

func start(t *testing.T, opts *Options) *Server {
	t.Helper()
	s, err := Start(validate, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw is a line-level client for checking exact wire behaviour.
type raw struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, s *Server) *raw {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := &raw{t: t, c: c, br: bufio.NewReader(c)}
	r.line() // greeting
	return r
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s + "\r\n")); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) line() string {
	r.t.Helper()
	l, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// until reads lines up to and including the tagged one.
func (r *raw) until(tag string) []string {
	r.t.Helper()
	var out []string
	for {
		l := r.line()
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			return out
		}
	}
}

func xoauth2(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
}

func TestXOAUTH2Wire(t *testing.T) {
	s := start(t, nil)

	r := dialRaw(t, s)
	r.send("a AUTHENTICATE XOAUTH2 " + xoauth2("u@x", "tok-u@x"))
	if l := r.until("a"); !strings.HasPrefix(l[len(l)-1], "a OK") {
		t.Fatalf("SASL-IR login: %q", l)
	}

	// Without SASL-IR: "+ " first, then the response.
	r = dialRaw(t, s)
	r.send("b AUTHENTICATE XOAUTH2")
	if l := r.line(); strings.TrimSpace(l) != "+" {
		t.Fatalf("want an empty continuation, got %q", l)
	}
	r.send(xoauth2("u@x", "tok-u@x"))
	if l := r.until("b"); !strings.HasPrefix(l[len(l)-1], "b OK") {
		t.Fatalf("two-step login: %q", l)
	}

	// Refused: JSON challenge, empty answer, NO [AUTHENTICATIONFAILED].
	for _, tok := range []string{"bogus", "tok-someone-else@x"} {
		r = dialRaw(t, s)
		r.send("c AUTHENTICATE XOAUTH2 " + xoauth2("u@x", tok))
		l := r.line()
		chal, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(l, "+ "))
		if !strings.HasPrefix(l, "+ ") || err != nil || !strings.Contains(string(chal), `"status":"401"`) {
			t.Fatalf("token %q: challenge %q (%s)", tok, l, chal)
		}
		r.send("")
		if l := r.line(); !strings.HasPrefix(l, "c NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("token %q: final %q", tok, l)
		}
	}

	// LOGIN with the token as password works too.
	r = dialRaw(t, s)
	r.send(`d LOGIN "u@x" "tok-u@x"`)
	if l := r.until("d"); !strings.HasPrefix(l[len(l)-1], "d OK") {
		t.Fatalf("LOGIN: %q", l)
	}
	if st := s.Stats(); st.Logins != 3 || st.AuthFailures != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestListWire(t *testing.T) {
	s := start(t, nil)
	if err := s.CreateFolder("u@x", "Архив|2024"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s)
	r.send("a AUTHENTICATE XOAUTH2 " + xoauth2("u@x", "tok-u@x"))
	r.until("a")
	r.send(`b LIST "" "*"`)
	lines := r.until("b")
	want := []string{
		`* LIST () "|" INBOX`,
		`* LIST (\Noselect) "|" "&BBAEQARFBDgEMg-"`,               // Архив, implied parent
		`* LIST () "|" "&BBAEQARFBDgEMg-|2024"`,                   // Архив|2024
		`* LIST () "|" "&BBgEQQRFBD4ENARPBEkEOAQ1-"`,              // Исходящие
		`* LIST (\Sent) "|" "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"`, // Отправленные
		`* LIST (\Junk) "|" "&BCEEPwQwBDw-"`,                      // Спам
		`* LIST (\Trash) "|" "&BCMENAQwBDsENQQ9BD0ESwQ1-"`,        // Удаленные
		`* LIST (\Drafts) "|" "&BCcENQRABD0EPgQyBDgEOgQ4-"`,       // Черновики
	}
	got := lines[:len(lines)-1]
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("LIST:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	r.send("c CAPABILITY")
	caps := r.until("c")[0]
	for _, c := range []string{"IMAP4rev1", "UIDPLUS", "MOVE", "NAMESPACE", "IDLE", "UNSELECT"} {
		if !strings.Contains(caps, " "+c) {
			t.Errorf("capabilities %q lack %s", caps, c)
		}
	}
	for _, c := range []string{"CONDSTORE", "QRESYNC", "ESEARCH", "SPECIAL-USE"} {
		if strings.Contains(caps, c) {
			t.Errorf("capabilities %q advertise %s, which Yandex does not", caps, c)
		}
	}
}

func login(t *testing.T, s *Server, email string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Authenticate(sasl.NewPlainClient("", email, "tok-"+email)); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSeedingHelpers(t *testing.T) {
	s := start(t, &Options{DefaultFolders: []Folder{}, Delim: '/'})
	email := "seed@x"
	date := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	msg := []byte("Subject: hi\r\nMessage-Id: <1@x>\r\n\r\nbody\r\n")
	for i := 0; i < 3; i++ {
		if uid, err := s.Append(email, "INBOX", msg, []imap.Flag{imap.FlagSeen}, date); err != nil || uid != imap.UID(i+1) {
			t.Fatalf("Append = %d, %v", uid, err)
		}
	}
	if err := s.SetFlags(email, "INBOX", 2, imap.FlagFlagged); err != nil {
		t.Fatal(err)
	}
	if err := s.Expunge(email, "INBOX", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(email, "Nope", msg, nil, date); err == nil {
		t.Fatal("append to a missing folder succeeded")
	}
	c := login(t, s, email)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	bufs, err := c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(bufs) != 2 || bufs[0].UID != 2 || !slices.Equal(bufs[0].Flags, []imap.Flag{imap.FlagFlagged}) ||
		!bufs[1].InternalDate.Equal(date) || string(bufs[1].BodySection[0].Bytes) != string(msg) {
		t.Fatalf("fetched %+v", bufs)
	}

	uv, _ := s.UIDValidity(email, "INBOX")
	if err := s.CreateFolder(email, "Work"); err != nil {
		t.Fatal(err)
	}
	wuv, _ := s.UIDValidity(email, "Work")
	if err := s.DeleteFolder(email, "Work"); err != nil {
		t.Fatal(err)
	}
	s.CreateFolder(email, "Work")
	if nuv, _ := s.UIDValidity(email, "Work"); nuv == wuv || nuv == uv {
		t.Fatalf("re-created folder kept UIDVALIDITY %d", nuv)
	}
	if err := s.RenameFolder(email, "Work", "Job"); err != nil {
		t.Fatal(err)
	}
	if got := s.Folders(email); !slices.Equal(got, []string{"INBOX", "Job"}) {
		t.Fatalf("folders %q", got)
	}
}

func TestHooks(t *testing.T) {
	s := start(t, &Options{
		OnSelect: func(email, mailbox string) error {
			if mailbox == "Спам" {
				return errors.New("locked")
			}
			return nil
		},
		OnFetch: func(email, mailbox string, _ imap.NumSet, _ *imap.FetchOptions) error {
			if mailbox == "Черновики" {
				return ErrDrop
			}
			return nil
		},
	})
	c := login(t, s, "h@x")
	_, err := c.Select("Спам", nil).Wait()
	var imapErr *imap.Error
	if !errors.As(err, &imapErr) || imapErr.Type != imap.StatusResponseTypeNo || !strings.Contains(imapErr.Text, "locked") {
		t.Fatalf("refused SELECT: %v", err)
	}
	if _, err := c.Select("Черновики", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect(); err == nil {
		t.Fatal("FETCH survived a dropped connection")
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
}

func TestTLSOptions(t *testing.T) {
	s := start(t, &Options{TLS: true})
	c, err := imapclient.DialTLS(s.Addr(), &imapclient.Options{TLSConfig: s.ClientTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(sasl.NewPlainClient("", "t@x", "tok-t@x")); err != nil {
		t.Fatal(err)
	}

	p := start(t, &Options{StartTLS: true})
	c2, err := imapclient.DialStartTLS(p.Addr(), &imapclient.Options{TLSConfig: p.ClientTLSConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Authenticate(sasl.NewPlainClient("", "t@x", "tok-t@x")); err != nil {
		t.Fatal(err)
	}
	if start(t, nil).ClientTLSConfig() != nil {
		t.Fatal("plain server has a TLS config")
	}
}

func TestSeedSample(t *testing.T) {
	a := start(t, nil)
	b := start(t, nil)
	for _, s := range []*Server{a, b} {
		if err := s.SeedSample("demo@x", 7, 42); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"INBOX", "Исходящие", "Архив", "Архив|2024", "Отправленные", "Проекты", "Спам", "Удаленные", "Черновики"}
	slices.Sort(want)
	if got := a.Folders("demo@x"); !slices.Equal(got, want) {
		t.Fatalf("folders %q", got)
	}
	// Same seed, same bytes.
	ca, cb := login(t, a, "demo@x"), login(t, b, "demo@x")
	fetch := func(c *imapclient.Client) []*imapclient.FetchMessageBuffer {
		if _, err := c.Select("Архив|2024", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		bufs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6, 7), &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil || len(bufs) != 7 {
			t.Fatalf("fetch: %d messages, %v", len(bufs), err)
		}
		return bufs
	}
	ma, mb := fetch(ca), fetch(cb)
	for i := range ma {
		if string(ma[i].BodySection[0].Bytes) != string(mb[i].BodySection[0].Bytes) {
			t.Fatalf("message %d differs between two servers seeded alike", i)
		}
	}
}

func TestAppendOptions(t *testing.T) {
	refused := &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "too big for the hook"}
	s := start(t, &Options{
		AppendLimit:    100,
		PermanentFlags: []imap.Flag{imap.FlagSeen, "$Forwarded"},
		OnAppend: func(email, mailbox string, size int64) error {
			switch size {
			case 13:
				return refused
			case 17:
				return ErrDrop
			}
			return nil
		},
	})
	r := dialRaw(t, s)
	r.send("a AUTHENTICATE XOAUTH2 " + xoauth2("u@x", "tok-u@x"))
	r.until("a")
	r.send("b CAPABILITY")
	if caps := strings.Join(r.until("b"), " "); !strings.Contains(caps, "APPENDLIMIT=100") {
		t.Fatalf("capabilities %q lack APPENDLIMIT=100", caps)
	}
	r.send("c SELECT INBOX")
	if sel := strings.Join(r.until("c"), "\n"); !strings.Contains(sel, `[PERMANENTFLAGS (\Seen $Forwarded)]`) {
		t.Fatalf("SELECT: %s", sel)
	}
	// Refused before the literal: no continuation request.
	r.send("d APPEND INBOX {101}")
	if l := r.line(); !strings.HasPrefix(l, "d NO [TOOBIG]") {
		t.Fatalf("oversized APPEND: %q", l)
	}
	// Refused by the hook after the literal; a LITERAL+ literal is consumed.
	r.send("e APPEND INBOX {13+}\r\n0123456789abc")
	if l := r.until("e"); !strings.HasPrefix(l[len(l)-1], "e NO [TOOBIG] too big for the hook") {
		t.Fatalf("refused APPEND: %q", l)
	}
	r.send("f APPEND INBOX (\\Seen) {5+}\r\nhello")
	if l := r.until("f"); !strings.HasPrefix(l[len(l)-1], "f OK [APPENDUID ") {
		t.Fatalf("APPEND: %q", l)
	}
	// A literal cut short by the client going away is not stored.
	r.send("g APPEND INBOX {50+}\r\nonly part of it")
	r.c.Close()
	r2 := dialRaw(t, s)
	r2.send("a AUTHENTICATE XOAUTH2 " + xoauth2("u@x", "tok-u@x"))
	r2.until("a")
	// ErrDrop closes the connection.
	r2.send("b APPEND INBOX {17+}\r\n0123456789abcdefg")
	if _, err := r2.br.ReadString('\n'); err == nil {
		t.Fatal("connection still open after ErrDrop")
	}
	time.Sleep(300 * time.Millisecond) // the server notices the cut literal and the drop
	n, err := s.MessageCount("u@x", "INBOX")
	if err != nil || n != 1 || s.Stats().Appends != 1 {
		t.Fatalf("%d messages (%v), %d appends; want only the complete, accepted one", n, err, s.Stats().Appends)
	}
}
