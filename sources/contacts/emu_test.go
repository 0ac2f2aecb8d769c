package contacts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"testing"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/contacts"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

type emuRig struct {
	emu   *y360emu.Server
	cnt   *counter
	src   *contacts.Source
	email string
	tok   *sourcetest.StaticTokens
}

func newEmuRig(t *testing.T, listing string) *emuRig {
	t.Helper()
	emu := y360emu.New(y360emu.Options{})
	base := emu.Start()
	t.Cleanup(emu.Close)
	cfg := contacts.NewConfig()
	cfg.URL, cfg.Listing = base+"/", listing
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cnt := newCounter()
	email := "alice@example.org"
	return &emuRig{emu: emu, cnt: cnt, src: contacts.New(cfg, &http.Client{Transport: cnt}), email: email,
		tok: &sourcetest.StaticTokens{Tok: emu.MintToken(email)}}
}

func (g *emuRig) backup(t *testing.T, st *sourcetest.MemStore) {
	t.Helper()
	if err := g.src.Backup(context.Background(), user(g.email), g.tok, st); err != nil {
		t.Fatal(err)
	}
}

func (g *emuRig) put(t *testing.T, book, name, vcf string) {
	t.Helper()
	if _, err := g.emu.ContactsPut(g.email, book, name, []byte(vcf)); err != nil {
		t.Fatal(err)
	}
}

func memBook(st *sourcetest.MemStore, book string) map[string][]byte {
	out := map[string][]byte{}
	for id, it := range st.Items(book) {
		out[id], _ = st.Body(it.Hash)
	}
	return out
}

// Full and incremental backups against the emulator's Yandex-shaped
// CardDAV, with the standard PROPFIND listing and with Yandex's ?op=ls.
func TestEmulatorBackupIncremental(t *testing.T) {
	for _, listing := range []string{contacts.ListPROPFIND, contacts.ListOpLs} {
		t.Run(listing, func(t *testing.T) {
			g := newEmuRig(t, listing)
			if err := g.emu.SeedDemoContacts(g.email); err != nil {
				t.Fatal(err)
			}
			g.put(t, "1", "weird name #1?.vcf", card("weird-1", "Weird Name"))
			g.put(t, "1", "nouid.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nEND:VCARD\r\n")
			g.put(t, "2", "junk.vcf", "this is not a vCard\n")
			st := sourcetest.New()
			g.backup(t, st)
			for _, b := range []string{"1", "2"} {
				sameSet(t, listing+" book "+b, memBook(st, b), g.emu.ContactsBook(g.email, b))
			}
			if m := st.Items("2")["junk.vcf"].Meta; !bytes.Contains(m, []byte(`"malformed":true`)) {
				t.Errorf("junk.vcf meta %s: want malformed", m)
			}
			if m := st.Items("1")["nouid.vcf"].Meta; bytes.Contains(m, []byte(`"uid"`)) {
				t.Errorf("nouid.vcf meta %s: want no uid", m)
			}
			if len(st.Failures) != 0 || len(st.Skips) != 0 {
				t.Errorf("fails %v skips %v", st.Failures, st.Skips)
			}

			g.cnt.reset()
			g.backup(t, st) // unchanged: the ctag answers for both books
			if by := g.cnt.reset(); by[http.MethodGet] != 0 || by["PROPFIND"] != 1 {
				t.Errorf("unchanged run: %v, want one PROPFIND and no GET", by)
			}

			g.put(t, "1", "added.vcf", card("added", "Added"))
			g.put(t, "1", "nouid.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID, changed\r\nEND:VCARD\r\n")
			g.emu.ContactsDelete(g.email, "1", "weird name #1?.vcf")
			g.backup(t, st)
			by := g.cnt.reset()
			if by[http.MethodGet] != 2+map[bool]int{true: 1}[listing == contacts.ListOpLs] {
				t.Errorf("incremental run: %v, want 2 card GETs", by)
			}
			sameSet(t, listing+" book 1 after changes", memBook(st, "1"), g.emu.ContactsBook(g.email, "1"))
		})
	}
}

// Hostile listings: broken JSON and names that are paths are refused as a
// whole (a book failure), and nothing stored is deleted because of them.
func TestEmulatorHostileListing(t *testing.T) {
	bodies := map[string]string{
		"broken JSON":      `{"list":[{"fileName":"a.vcf","etag":"1"},`,
		"not an object":    `[1,2]`,
		"no list":          `{"items":[]}`,
		"no fileName":      `{"list":[{"etag":"1"}]}`,
		"dot-dot":          `{"list":[{"fileName":"..","etag":"1"}]}`,
		"slash":            `{"list":[{"fileName":"../../other@example.org/1/x.vcf","etag":"1"}]}`,
		"backslash":        `{"list":[{"fileName":"a\\b.vcf","etag":"1"}]}`,
		"control char":     `{"list":[{"fileName":"a\u0000.vcf","etag":"1"}]}`,
		"trailing garbage": `{"list":[]} {}`,
		"duplicate":        `{"list":[{"fileName":"a.vcf","etag":"1"},{"fileName":"a.vcf","etag":"2"}]}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			g := newEmuRig(t, contacts.ListOpLs)
			if err := g.emu.SeedDemoContacts(g.email); err != nil {
				t.Fatal(err)
			}
			st := sourcetest.New()
			g.backup(t, st)
			want := memBook(st, "1")
			g.put(t, "1", "more.vcf", card("more", "More")) // the ctag moves: the book is listed again
			g.cnt.hook = func(r *http.Request) (*http.Response, error) {
				if r.URL.Query().Get("op") != "ls" {
					return nil, nil
				}
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			}
			g.backup(t, st)
			if len(st.Failures) != 1 || !strings.Contains(st.Failures[0], "?op=ls") {
				t.Errorf("fails %v: want one for book 1 naming the ?op=ls listing", st.Failures)
			}
			sameSet(t, "book 1 kept", memBook(st, "1"), want)
		})
	}
}

// A token without the address-book scope is a 401: the user's run fails
// with ErrUnauthorized (after one re-mint), not a silent empty backup.
func TestEmulatorNoScope(t *testing.T) {
	g := newEmuRig(t, contacts.ListPROPFIND)
	g.tok = &sourcetest.StaticTokens{Tok: g.emu.MintToken(g.email, "calendar:all")}
	err := g.src.Backup(context.Background(), user(g.email), g.tok, sourcetest.New())
	if !errors.Is(err, sources.ErrUnauthorized) {
		t.Fatalf("err = %v, want unauthorized", err)
	}
	if strings.Contains(err.Error(), g.tok.Tok) {
		t.Error("the error leaks the token")
	}
}

// Restore through the engine against the emulator: in place after a wipe,
// every policy, names with URL-special characters and a card without UID.
func TestEmulatorRestorePolicies(t *testing.T) {
	for _, listing := range []string{contacts.ListPROPFIND, contacts.ListOpLs} {
		t.Run(listing, func(t *testing.T) { testEmulatorRestorePolicies(t, listing) })
	}
}

func testEmulatorRestorePolicies(t *testing.T, listing string) {
	g := newEmuRig(t, listing)
	if err := g.emu.SeedDemoContacts(g.email); err != nil {
		t.Fatal(err)
	}
	g.put(t, "1", "weird name #1?.vcf", card("weird-1", "Weird Name"))
	g.put(t, "1", "nouid.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No UID\r\nEND:VCARD\r\n")
	before := g.emu.ContactsBook(g.email, "1")
	repo := newRepo(t)
	tokens := func(sources.User) sources.TokenSource { return g.tok }
	snap := backupRun(t, repo, g.src, user(g.email), tokens)
	restore := func(inPlace bool, policy string) *engine.RestoreReport {
		t.Helper()
		rep, err := repo.Restore(context.Background(), engine.RestoreOptions{Snapshot: snap, InPlace: inPlace, Policy: policy,
			Restorers: map[string]sources.Restorer{"contacts": g.src}, Tokens: tokens, Selection: engine.Selection{Containers: []string{"1"}}})
		if err != nil || rep.Failed != 0 {
			t.Fatalf("restore %s: %v %v", policy, err, rep)
		}
		return rep
	}

	g.emu.ContactsDelete(g.email, "1", "")
	if rep := restore(true, sources.PolicySkip); rep.Written != len(before) {
		t.Errorf("skip after wipe wrote %d, want %d", rep.Written, len(before))
	}
	sameSet(t, "after wipe", g.emu.ContactsBook(g.email, "1"), before)
	if rep := restore(true, sources.PolicySkip); rep.Written != 0 {
		t.Errorf("skip rerun wrote %d", rep.Written)
	}
	if rep := restore(true, sources.PolicyReplace); rep.Written != 0 {
		t.Errorf("replace of unchanged cards wrote %d", rep.Written)
	}
	g.put(t, "1", "weird name #1?.vcf", card("weird-1", "Changed since"))
	if rep := restore(true, sources.PolicyReplace); rep.Written != 1 {
		t.Errorf("replace wrote %d, want the one changed card", rep.Written)
	}
	sameSet(t, "after replace", g.emu.ContactsBook(g.email, "1"), before)
	if rep := restore(true, sources.PolicyCopy); rep.Written != len(before) {
		t.Errorf("copy wrote %d, want %d", rep.Written, len(before))
	}
	now := g.emu.ContactsBook(g.email, "1")
	if len(now) != 2*len(before) {
		t.Fatalf("after copy %d cards, want %d", len(now), 2*len(before))
	}
	cp := now["weird name #1?-restored-1.vcf"]
	if !bytes.Contains(cp, []byte("UID:weird-1-restored-")) || bytes.Contains(cp, []byte("UID:weird-1\r\n")) {
		t.Errorf("copy has no derived UID:\n%s", cp)
	}
	if !bytes.Equal(now["nouid-restored-1.vcf"], before["nouid.vcf"]) {
		t.Errorf("copy of the card without UID changed its bytes")
	}
	if rep := restore(false, ""); rep.Written != len(before) {
		t.Errorf("non-destructive restore wrote %d, want %d", rep.Written, len(before))
	}
	if books := g.emu.ContactsBooks(g.email); len(books) != 3 || !strings.HasPrefix(books[2], "restored-") {
		t.Errorf("books after non-destructive restore: %v", books)
	}
}

// A card deleted between the listing and its GET (404) is recorded as gone,
// not as a failure; a 500 on one card fails that card only, and the next
// run fetches it.
func TestEmulatorCardVanishesOrFails(t *testing.T) {
	g := newEmuRig(t, contacts.ListPROPFIND)
	g.put(t, "1", "a.vcf", card("a", "A"))
	g.put(t, "1", "b.vcf", card("b", "B"))
	g.put(t, "1", "c.vcf", card("c", "C"))
	st := sourcetest.New()
	g.backup(t, st)
	g.put(t, "1", "a.vcf", card("a", "A changed"))
	g.put(t, "1", "b.vcf", card("b", "B changed"))
	g.cnt.hook = func(r *http.Request) (*http.Response, error) {
		code := map[string]int{"a.vcf": http.StatusNotFound, "b.vcf": http.StatusInternalServerError}[path.Base(r.URL.Path)]
		if r.Method != http.MethodGet || code == 0 {
			return nil, nil
		}
		return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader("x")), Request: r, Header: http.Header{}}, nil
	}
	g.backup(t, st)
	items := st.Items("1")
	if _, ok := items["a.vcf"]; ok || len(st.Failures) != 1 || !strings.Contains(st.Failures[0], "b.vcf") {
		t.Fatalf("after 404 on a and 500 on b: items %d (a present: %v), failures %v", len(items), ok, st.Failures)
	}
	g.cnt.hook = nil
	g.backup(t, st)
	sameSet(t, "next run", memBook(st, "1"), g.emu.ContactsBook(g.email, "1"))
}
