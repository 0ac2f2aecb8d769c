package mail

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// demoTokens is the token rule of the demo servers in these tests:
// "tok-<email>" belongs to <email>.
func demoValidate(tok string) (string, bool) {
	email, ok := strings.CutPrefix(tok, "tok-")
	return email, ok && email != ""
}

func startDemo(t *testing.T, opts *imapdemo.Options) *imapdemo.Server {
	t.Helper()
	srv, err := imapdemo.Start(demoValidate, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func demoSource(srv *imapdemo.Server) *Source {
	cfg := Config{Addr: srv.Addr(), Security: SecurityPlain, Timeout: 10 * time.Second}
	if tc := srv.ClientTLSConfig(); tc != nil {
		cfg.Security = SecurityTLS
		cfg.TLSConfig = tc
	}
	return New(cfg)
}

func testUser(email string) sources.User {
	return sources.User{ID: "1130000000000001", Email: email, Enabled: true}
}

func tokensFor(email string) *sourcetest.StaticTokens {
	return &sourcetest.StaticTokens{Tok: "tok-" + email}
}

// message builds a small RFC 5322 message with a Message-Id.
func message(id, subject, body string) []byte {
	return []byte(fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: %s\r\n"+
		"Message-Id: <%s@example.org>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0300\r\n\r\n%s\r\n", subject, id, body))
}

func mustAppend(t *testing.T, srv *imapdemo.Server, email, folder string, msg []byte, date time.Time, flags ...imap.Flag) imap.UID {
	t.Helper()
	uid, err := srv.Append(email, folder, msg, flags, date)
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func backup(t *testing.T, src *Source, email string, st sources.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := src.Backup(ctx, testUser(email), tokensFor(email), st); err != nil {
		t.Fatalf("backup: %v", err)
	}
}

// countingStore wraps a MemStore to count and intercept calls.
type countingStore struct {
	*sourcetest.MemStore
	mu        sync.Mutex
	commits   int
	onCommit  func(n int) // called after each successful commit
	putBodies int
}

func (s *countingStore) Open(ctx context.Context, name string) (sources.Container, error) {
	c, err := s.MemStore.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &countingContainer{Container: c, s: s}, nil
}

type countingContainer struct {
	sources.Container
	s *countingStore
}

func (c *countingContainer) Commit(ctx context.Context, cursor any) error {
	if err := c.Container.Commit(ctx, cursor); err != nil {
		return err
	}
	c.s.mu.Lock()
	c.s.commits++
	n, fn := c.s.commits, c.s.onCommit
	c.s.mu.Unlock()
	if fn != nil {
		fn(n)
	}
	return nil
}
