package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// Restore tests run through the engine: backup.OpenOrInit on a sink,
// Repository.Backup with a one-user lister, Repository.Restore. The same
// scenarios run against the demo server and the two Dovecots (restorePeer).

type lister []sources.User

func (l lister) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for _, u := range l {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// restorePeer is a server restore tests run against.
type restorePeer struct {
	name  string
	addr  string // plain (or STARTTLS-offering) address for the test's own client
	src   *Source
	token func(email string) string
	demo  *imapdemo.Server // nil for Dovecot
	sink  sinks.Sink
	repo  *engine.Repository
}

func demoPeer(t *testing.T, opts *imapdemo.Options, mutate ...func(*Config)) *restorePeer {
	t.Helper()
	srv := startDemo(t, opts)
	cfg := Config{Addr: srv.Addr(), Security: SecurityPlain, Timeout: 10 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	p := &restorePeer{name: "demo", addr: srv.Addr(), src: New(cfg), demo: srv,
		token: func(email string) string { return "tok-" + email }}
	p.newRepo(t)
	return p
}

func dovecotRestorePeer(t *testing.T, name, env, security string, mutate ...func(*Config)) *restorePeer {
	t.Helper()
	addr := peerEnv(t, env)
	cfg := Config{Addr: addr, Security: security, TLSConfig: dovecotTLS(t), BatchSize: 7, Timeout: 30 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	p := &restorePeer{name: name, addr: addr, src: New(cfg), token: dovecotToken}
	p.newRepo(t)
	return p
}

// newRepo gives the peer a fresh repository on sinks/mem.
func (p *restorePeer) newRepo(t *testing.T) {
	t.Helper()
	p.sink = mem.New()
	r, err := engine.OpenOrInit(context.Background(), p.sink, engine.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p.repo = r
}

func (p *restorePeer) tokens(u sources.User) sources.TokenSource {
	return &sourcetest.StaticTokens{Tok: p.token(u.Email)}
}

func userFor(email string) sources.User {
	return sources.User{ID: "id-" + email, Email: email, Enabled: true}
}

// backup runs one engine backup of email and insists on a clean snapshot.
func (p *restorePeer) backup(t *testing.T, email string) *engine.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	snap, err := p.repo.Backup(ctx, engine.RunOptions{Users: lister{userFor(email)}, Sources: []sources.Source{p.src},
		Tokens: p.tokens, Concurrency: 1})
	if err != nil {
		t.Fatalf("%s: backup %s: %v", p.name, email, err)
	}
	if snap.Status != engine.StatusOK {
		for _, us := range snap.Users {
			for name, ss := range us.Sources {
				t.Logf("%s %s: %s %s failures %v", us.Email, name, ss.Status, ss.Error, ss.Failures)
			}
		}
		t.Fatalf("%s: backup %s: snapshot status %s", p.name, email, snap.Status)
	}
	return snap
}

// opts are RestoreOptions for the mail source alone.
func (p *restorePeer) opts(snap *engine.Snapshot) engine.RestoreOptions {
	return engine.RestoreOptions{Snapshot: snap, Restorers: map[string]sources.Restorer{"mail": p.src}, Tokens: p.tokens}
}

func (p *restorePeer) restore(t *testing.T, opts engine.RestoreOptions) *engine.RestoreReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := p.repo.Restore(ctx, opts)
	if err != nil {
		t.Fatalf("%s: restore: %v", p.name, err)
	}
	if rep.Failed != 0 {
		t.Fatalf("%s: restore reported %d failures: %v", p.name, rep.Failed, rep.Failures)
	}
	return rep
}

// client opens the test's own IMAP connection (imapclient) as email.
func (p *restorePeer) client(t *testing.T, email string) *imapSeeder {
	t.Helper()
	return dialSeeder(t, p.addr, email, p.token(email))
}

func dialSeeder(t *testing.T, addr, email, token string) *imapSeeder {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Authenticate(&xoauth2Client{user: email, token: token}); err != nil {
		t.Fatalf("test client login as %s: %v", email, err)
	}
	l, err := c.List("", "", nil).Collect()
	if err != nil || len(l) != 1 {
		t.Fatalf("LIST \"\" \"\": %v %v", l, err)
	}
	return &imapSeeder{t: t, c: c, delim: string(l[0].Delim)}
}

// stored is one message as the server shows it.
type stored struct {
	uid   imap.UID
	body  []byte
	flags []string
	date  time.Time
}

func (m stored) String() string {
	return fmt.Sprintf("uid %d %x… %d bytes %v %s", m.uid, sha256.Sum256(m.body), len(m.body), m.flags, m.date.Format(time.RFC3339))
}

// folders lists the selectable folders.
func (s *imapSeeder) folders() []string {
	s.t.Helper()
	l, err := s.c.List("", "*", nil).Collect()
	if err != nil {
		s.t.Fatalf("LIST: %v", err)
	}
	var out []string
	for _, d := range l {
		if !hasMailboxAttr(d.Attrs, imap.MailboxAttrNoSelect) && !hasMailboxAttr(d.Attrs, imap.MailboxAttrNonExistent) {
			out = append(out, d.Mailbox)
		}
	}
	sort.Strings(out)
	return out
}

func hasMailboxAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// read returns every message of a folder (BODY.PEEK[], FLAGS, INTERNALDATE) by UID.
func (s *imapSeeder) read(folder string) []stored {
	s.t.Helper()
	sel, err := s.c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		s.t.Fatalf("EXAMINE %s: %v", folder, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	bufs, err := s.c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		s.t.Fatalf("FETCH %s: %v", folder, err)
	}
	var out []stored
	for _, b := range bufs {
		var body []byte
		for _, sec := range b.BodySection {
			body = sec.Bytes
		}
		out = append(out, stored{uid: b.UID, body: body, flags: canonicalFlags(b.Flags), date: b.InternalDate})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
	return out
}

// account reads every folder that holds messages.
func (s *imapSeeder) account() map[string][]stored {
	s.t.Helper()
	out := map[string][]stored{}
	for _, f := range s.folders() {
		if msgs := s.read(f); len(msgs) > 0 {
			out[f] = msgs
		}
	}
	return out
}

func countAll(a map[string][]stored) int {
	n := 0
	for _, m := range a {
		n += len(m)
	}
	return n
}

// wipe deletes every message and every folder but INBOX (servers may
// recreate their special folders, empty).
func (s *imapSeeder) wipe() {
	s.t.Helper()
	folders := s.folders()
	for _, f := range folders {
		if sel, err := s.c.Select(f, nil).Wait(); err != nil {
			s.t.Fatalf("SELECT %s: %v", f, err)
		} else if sel.NumMessages == 0 {
			continue
		}
		if err := s.c.Store(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			s.t.Fatalf("STORE %s: %v", f, err)
		}
		if err := s.c.Expunge().Close(); err != nil {
			s.t.Fatalf("EXPUNGE %s: %v", f, err)
		}
	}
	if err := s.c.Unselect().Wait(); err != nil {
		s.t.Fatalf("UNSELECT: %v", err)
	}
	// Children first.
	sort.Slice(folders, func(i, j int) bool { return strings.Count(folders[i], s.delim) > strings.Count(folders[j], s.delim) })
	for _, f := range folders {
		if f != "INBOX" {
			s.delete(f)
		}
	}
}

// sameMessages checks that got holds exactly the messages of want: same
// bytes, flags and INTERNALDATE (as an instant), in any UID order.
func sameMessages(t *testing.T, where string, got, want []stored) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", where, len(got), len(want))
	}
	used := make([]bool, len(got))
next:
	for _, w := range want {
		for i, g := range got {
			if !used[i] && bytes.Equal(g.body, w.body) && equalFlags(g.flags, w.flags) && g.date.Equal(w.date) {
				used[i] = true
				continue next
			}
		}
		var near []string
		for i, g := range got {
			if !used[i] && bytes.Equal(g.body, w.body) {
				near = append(near, g.String())
			}
		}
		t.Errorf("%s: missing %v (same bytes, other flags/date: %v)", where, w, near)
	}
}

// sameAccount checks got against want folder by folder; rename maps a
// folder of want to its name in got.
func sameAccount(t *testing.T, got, want map[string][]stored, rename func(string) string) {
	t.Helper()
	for f, msgs := range want {
		dst := f
		if rename != nil {
			dst = rename(f)
		}
		sameMessages(t, dst, got[dst], msgs)
	}
}
