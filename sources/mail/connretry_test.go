package mail

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// emptyInbox answers a backup of one empty INBOX.
func emptyInbox(tag, cmd string) (string, bool) {
	switch {
	case strings.HasPrefix(cmd, "LIST"):
		return "* LIST (\\HasNoChildren) \"/\" INBOX\r\n" + tag + " OK LIST done\r\n", false
	case strings.HasPrefix(cmd, "EXAMINE"):
		return "* 0 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n* OK [UIDNEXT 1] ok\r\n" + tag + " OK [READ-ONLY] done\r\n", false
	case strings.HasPrefix(cmd, "UID SEARCH"):
		return "* SEARCH\r\n" + tag + " OK done\r\n", false
	}
	return tag + " OK\r\n", false
}

// Issue 16.2: a server down for ~2 s (connection refused), then up, costs
// the user nothing.
func TestConnectRetriesShortOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused from now on
	up := make(chan struct{})
	go func() {
		defer close(up)
		time.Sleep(2 * time.Second)
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		serveFake(t, ln2, &fakeServer{ln: ln2, greeting: okGreeting, reply: goodLogin(emptyInbox)})
	}()
	start := time.Now()
	err, st := fakeBackup(t, addr)
	<-up
	t.Logf("backup after a 2 s outage: %v in %v", err, time.Since(start).Round(time.Millisecond))
	if err != nil || len(st.Failures) != 0 {
		t.Fatalf("backup = %v, failures %q", err, st.Failures)
	}
}

// NO [UNAVAILABLE] to the login is a temporary failure, retried; a refused
// token is not retried beyond the one fresh token; a server that stays down
// fails after the bounded retries.
func TestConnectRetriesClassify(t *testing.T) {
	defer func(a, b time.Duration) { connectMinBackoff, connectMaxBackoff = a, b }(connectMinBackoff, connectMaxBackoff)
	connectMinBackoff, connectMaxBackoff = 10*time.Millisecond, 40*time.Millisecond

	var auths atomic.Int64
	unavailable := func(tag, cmd string) (string, bool) {
		if strings.HasPrefix(cmd, "AUTHENTICATE") && auths.Add(1) <= 3 {
			return tag + " NO [UNAVAILABLE] try later\r\n", true
		}
		return goodLogin(emptyInbox)(tag, cmd)
	}
	if err, st := fakeBackup(t, startFake(t, okGreeting, unavailable)); err != nil || len(st.Failures) != 0 || auths.Load() != 4 {
		t.Errorf("NO [UNAVAILABLE] x3: %v %q after %d logins", err, st.Failures, auths.Load())
	}

	auths.Store(0)
	refused := func(tag, cmd string) (string, bool) {
		if strings.HasPrefix(cmd, "AUTHENTICATE") {
			auths.Add(1)
			return tag + " NO [AUTHENTICATIONFAILED] bad token\r\n", false
		}
		return tag + " OK\r\n", false
	}
	err, _ := fakeBackup(t, startFake(t, okGreeting, refused))
	if !errors.Is(err, sources.ErrUnauthorized) || auths.Load() != 2 {
		t.Errorf("refused token: %v after %d logins, want ErrUnauthorized after 2", err, auths.Load())
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	err, _ = fakeBackup(t, addr)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("server down for good: %v", err)
	}
}
