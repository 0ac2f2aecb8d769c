package mail

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources/sourcetest"
)

// fakeServer is a tiny scripted IMAP server for responses no real server
// sends. reply gets the tag and the upper-cased command line (without tag)
// and returns raw bytes to write; closeAfter closes the connection after them.
type fakeServer struct {
	ln       net.Listener
	greeting string
	reply    func(tag, cmd string) (out string, closeAfter bool)
	// stream, if set, may answer a command itself by writing to w (for
	// answers too large to build in memory); true means it did.
	stream func(tag, cmd string, w io.Writer) bool
	wg     sync.WaitGroup
}

func startFake(t *testing.T, greeting string, reply func(tag, cmd string) (string, bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveFake(t, ln, &fakeServer{ln: ln, greeting: greeting, reply: reply})
}

func serveFake(t *testing.T, ln net.Listener, f *fakeServer) string {
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

func (f *fakeServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(f.greeting)); err != nil || f.reply == nil {
		return
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if f.stream != nil && f.stream(tag, strings.ToUpper(cmd), c) {
			continue
		}
		out, closeAfter := f.reply(tag, strings.ToUpper(cmd))
		if _, err := c.Write([]byte(out)); err != nil || closeAfter {
			return
		}
	}
}

// goodLogin answers AUTHENTICATE like Yandex and everything else with reply.
func goodLogin(rest func(tag, cmd string) (string, bool)) func(tag, cmd string) (string, bool) {
	return func(tag, cmd string) (string, bool) {
		switch {
		case strings.HasPrefix(cmd, "AUTHENTICATE"):
			return tag + " OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n", false
		case cmd == "LOGOUT":
			return "* BYE bye\r\n" + tag + " OK done\r\n", true
		}
		return rest(tag, cmd)
	}
}

func fakeBackup(t *testing.T, addr string) (error, *sourcetest.MemStore) {
	t.Helper()
	st := sourcetest.New()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	src := New(Config{Addr: addr, Security: SecurityPlain, Timeout: 2 * time.Second})
	err := src.Backup(ctx, testUser("g@example.org"), tokensFor("g@example.org"), st)
	if ctx.Err() != nil {
		t.Fatalf("backup hung until the test deadline (err %v)", err)
	}
	return err, st
}

const okGreeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] fake ready\r\n"

func TestGarbageGreeting(t *testing.T) {
	for _, g := range []string{
		"\x00\xff\xfe garbage \x1b[31m\r\n",
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"", // closes at once
	} {
		addr := startFake(t, g, nil)
		err, _ := fakeBackup(t, addr)
		if err == nil {
			t.Fatalf("greeting %q: no error", g)
		}
		if !strings.Contains(err.Error(), "greeting") || strings.ContainsAny(err.Error(), "\x00\x1b") {
			t.Fatalf("greeting %q: unclear or raw error %q", g, err)
		}
	}
}

func TestGarbageAfterLogin(t *testing.T) {
	addr := startFake(t, okGreeting, goodLogin(func(tag, cmd string) (string, bool) {
		return "* \x01\x02 ((( {garbage\r\n" + tag + " OK\r\n", false
	}))
	err, _ := fakeBackup(t, addr)
	if err == nil || !strings.Contains(err.Error(), "LIST") {
		t.Fatalf("error = %v, want a LIST error", err)
	}
}

// folderServer answers LIST/EXAMINE/SEARCH for one INBOX message and lets
// fetch decide how to answer UID FETCH.
func folderServer(fetch func(tag, cmd string) (string, bool)) func(tag, cmd string) (string, bool) {
	return goodLogin(func(tag, cmd string) (string, bool) {
		switch {
		case strings.HasPrefix(cmd, "LIST"):
			return "* LIST (\\HasNoChildren) \"/\" INBOX\r\n" + tag + " OK LIST done\r\n", false
		case strings.HasPrefix(cmd, "EXAMINE"):
			return "* 1 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n* OK [UIDNEXT 2] ok\r\n" + tag + " OK [READ-ONLY] done\r\n", false
		case strings.HasPrefix(cmd, "UID SEARCH"):
			return "* SEARCH 1\r\n" + tag + " OK done\r\n", false
		case strings.HasPrefix(cmd, "UID FETCH"):
			return fetch(tag, cmd)
		}
		return tag + " BAD unexpected\r\n", false
	})
}

func TestTruncatedLiteral(t *testing.T) {
	addr := startFake(t, okGreeting, folderServer(func(tag, cmd string) (string, bool) {
		return "* 1 FETCH (UID 1 RFC822.SIZE 1000 BODY[] {1000}\r\nFrom: a@b\r\n", true
	}))
	err, st := fakeBackup(t, addr)
	if err != nil {
		t.Fatalf("a broken folder must not fail the user: %v", err)
	}
	if len(st.Failures) != 1 || !strings.HasPrefix(st.Failures[0], "INBOX: ") || !strings.Contains(st.Failures[0], "connection") {
		t.Fatalf("failures = %q", st.Failures)
	}
	if len(st.Items("INBOX")) != 0 || st.BodyPuts != 0 {
		t.Fatalf("a truncated message was stored: %d items, %d bodies", len(st.Items("INBOX")), st.BodyPuts)
	}
}

func TestGarbageFetchResponse(t *testing.T) {
	addr := startFake(t, okGreeting, folderServer(func(tag, cmd string) (string, bool) {
		return "* 1 FETCH (UID 1 BODY[] NIL ENVELOPE (((((\r\n" + tag + " OK\r\n", false
	}))
	err, st := fakeBackup(t, addr)
	if err != nil {
		t.Fatalf("unexpected user error: %v", err)
	}
	if len(st.Failures) != 1 || !strings.HasPrefix(st.Failures[0], "INBOX: ") {
		t.Fatalf("failures = %q", st.Failures)
	}
}

func TestFetchNoBody(t *testing.T) {
	// A server that answers OK but never sends BODY[]: the message is
	// reported after the retry and kept in the cursor's failure list.
	addr := startFake(t, okGreeting, folderServer(func(tag, cmd string) (string, bool) {
		return "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 10)\r\n" + tag + " OK done\r\n", false
	}))
	err, st := fakeBackup(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failures) != 1 || !strings.HasPrefix(st.Failures[0], "INBOX uid 1: ") || !strings.Contains(st.Failures[0], "no data") {
		t.Fatalf("failures = %q", st.Failures)
	}
	cur, _ := decodeCursor(st.CommittedCursor("INBOX"))
	if cur.LastUID != 1 || len(cur.Failed) != 1 || cur.Failed[0] != 1 {
		t.Fatalf("cursor = %+v", cur)
	}
}
