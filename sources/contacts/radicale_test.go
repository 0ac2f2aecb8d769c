package contacts_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/export"
	"github.com/y360backup/y360backup/internal/testpeer/radicalepeer"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/contacts"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// radicale is a test-side CardDAV client to create and change data.
type radicale struct {
	t           *testing.T
	base, email string
	tok         string
}

func (r *radicale) do(method, p string, hdr map[string]string, body []byte) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, strings.TrimSuffix(r.base, "/")+p, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(r.email, r.tok)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, p, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *radicale) home() string { return "/" + r.email + "/" }

func (r *radicale) mkbook(name, display string) {
	r.t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop>` +
		`<D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>` + display + `</D:displayname></D:prop></D:set></D:mkcol>`
	if code, b := r.do("MKCOL", r.home()+name+"/", map[string]string{"Content-Type": "application/xml"}, []byte(body)); code != http.StatusCreated {
		r.t.Fatalf("MKCOL %s: %d %s", name, code, b)
	}
}

func (r *radicale) put(book, name, vcf string) {
	r.t.Helper()
	if code, b := r.do(http.MethodPut, r.home()+book+"/"+name, map[string]string{"Content-Type": "text/vcard; charset=utf-8"}, []byte(vcf)); code/100 != 2 {
		r.t.Fatalf("PUT %s/%s: %d %s", book, name, code, b)
	}
}

func (r *radicale) del(p string) {
	r.t.Helper()
	if code, b := r.do(http.MethodDelete, r.home()+p, nil, nil); code/100 != 2 {
		r.t.Fatalf("DELETE %s: %d %s", p, code, b)
	}
}

// book GETs every card of a book (names from a PROPFIND Depth 1).
func (r *radicale) book(name string) map[string][]byte {
	r.t.Helper()
	code, b := r.do("PROPFIND", r.home()+name+"/", map[string]string{"Depth": "1"}, []byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>`))
	if code == http.StatusNotFound {
		return map[string][]byte{}
	}
	if code != http.StatusMultiStatus {
		r.t.Fatalf("PROPFIND %s: %d %s", name, code, b)
	}
	out := map[string][]byte{}
	for _, href := range hrefs(b) {
		if !strings.HasSuffix(href, ".vcf") {
			continue
		}
		card := href[strings.LastIndex(href, "/")+1:]
		c, body := r.do(http.MethodGet, r.home()+name+"/"+card, nil, nil)
		if c != http.StatusOK {
			r.t.Fatalf("GET %s/%s: %d", name, card, c)
		}
		out[card] = body
	}
	return out
}

type rig struct {
	t    *testing.T
	base string
	cnt  *counter
	src  *contacts.Source
	repo *engine.Repository
}

func newRig(t *testing.T, base string, mutate ...func(*contacts.Config)) *rig {
	cfg := contacts.NewConfig()
	cfg.URL, cfg.Home = base, "" // Radicale: discover the home
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cnt := newCounter()
	return &rig{t: t, base: base, cnt: cnt, src: contacts.New(cfg, &http.Client{Transport: cnt}), repo: newRepo(t)}
}

func (g *rig) tokens(u sources.User) sources.TokenSource {
	return &sourcetest.StaticTokens{Tok: radicalepeer.Token(g.t, g.base, u.Email)}
}

func (g *rig) restore(snap *engine.Snapshot, inPlace bool, policy string) *engine.RestoreReport {
	g.t.Helper()
	rep, err := g.repo.Restore(context.Background(), engine.RestoreOptions{
		Snapshot: snap, InPlace: inPlace, Policy: policy,
		Restorers: map[string]sources.Restorer{"contacts": g.src}, Tokens: g.tokens,
	})
	if err != nil {
		g.t.Fatalf("restore: %v", err)
	}
	if rep.Failed != 0 {
		g.t.Fatalf("restore: %d failures: %v", rep.Failed, rep.Failures)
	}
	return rep
}

// Full, incremental (add/change/delete), byte-exact export and restore
// round trip, point in time, odd encodings, photos and a 5 MB contact on
// a real CardDAV server.
func TestRadicaleContacts(t *testing.T) {
	base := radicalepeer.URL(t)
	email := fmt.Sprintf("contacts-%d@example.org", time.Now().UnixNano()%1e9)
	g := newRig(t, base)
	r := &radicale{t: t, base: base, email: email, tok: radicalepeer.Token(t, base, email)}
	u := user(email)

	r.mkbook("1", "Личные")
	r.mkbook("2", "Общие")
	const bulk = 200
	for i := 0; i < bulk; i++ {
		r.put("1", fmt.Sprintf("u-%03d.vcf", i), card(fmt.Sprintf("u-%03d", i), fmt.Sprintf("Person %d", i)))
	}
	r.put("1", "odd.vcf", oddCard("odd-1"))
	r.put("2", "big.vcf", bigCard("big-1", 5<<20))
	r.put("2", "shared.vcf", card("shared-1", "Shared One"))
	before1, before2 := r.book("1"), r.book("2")
	if len(before1) != bulk+1 || len(before2) != 2 || len(before2["big.vcf"]) < 5<<20 {
		t.Fatalf("seeded %d + %d cards (big %d bytes)", len(before1), len(before2), len(before2["big.vcf"]))
	}

	// Full backup: stored bytes are what GET returns.
	g.cnt.reset()
	t0 := time.Now()
	snap1 := backupRun(t, g.repo, g.src, u, g.tokens)
	by := g.cnt.reset()
	t.Logf("full backup: %d cards in %v, requests %v", bulk+3, time.Since(t0).Round(time.Millisecond), by)
	sameSet(t, "snap1 book 1", stored(t, g.repo, snap1, "1"), before1)
	sameSet(t, "snap1 book 2", stored(t, g.repo, snap1, "2"), before2)

	// Nothing changed: no GET.
	backupRun(t, g.repo, g.src, u, g.tokens)
	if by := g.cnt.reset(); by[http.MethodGet] != 0 {
		t.Errorf("unchanged rerun made %d GETs (%v)", by[http.MethodGet], by)
	} else {
		t.Logf("unchanged rerun: requests %v", by)
	}

	// Add, change, delete.
	r.put("1", "new.vcf", card("new-1", "New Person"))
	r.put("1", "u-001.vcf", card("u-001", "Person One Renamed"))
	r.del("1/u-002.vcf")
	after1 := r.book("1")
	snap2 := backupRun(t, g.repo, g.src, u, g.tokens)
	by = g.cnt.reset()
	t.Logf("incremental (1 add, 1 change, 1 delete): requests %v", by)
	if by[http.MethodGet] != 2 {
		t.Errorf("incremental backup made %d GETs, want 2 (the added and the changed card): %v", by[http.MethodGet], by)
	}
	sameSet(t, "snap2 book 1", stored(t, g.repo, snap2, "1"), after1)
	sameSet(t, "snap1 still book 1", stored(t, g.repo, snap1, "1"), before1)

	checkExport(t, g.repo, snap2, email, after1, before2)

	// Wipe book 1 and book 2, restore in place from the latest snapshot.
	r.del("1/")
	r.del("2/")
	t0 = time.Now()
	rep := g.restore(snap2, true, "")
	t.Logf("in-place restore into a wiped account: %d cards in %v, requests %v", rep.Written, time.Since(t0).Round(time.Millisecond), g.cnt.reset())
	if rep.Written != len(after1)+len(before2) {
		t.Errorf("in-place restore wrote %d, want %d", rep.Written, len(after1)+len(before2))
	}
	sameSet(t, "restored book 1", r.book("1"), after1)
	sameSet(t, "restored book 2", r.book("2"), before2)
	g.cnt.reset()
	if rep := g.restore(snap2, true, ""); rep.Written != 0 {
		t.Errorf("rerun wrote %d cards, want 0", rep.Written)
	}
	if by := g.cnt.reset(); by[http.MethodPut] != 0 {
		t.Errorf("rerun made %d PUTs", by[http.MethodPut])
	}

	// Point in time: the deleted and the changed card come back as they
	// were in snap1, non-destructively, next to the current book.
	rep = g.restore(snap1, false, "")
	if rep.Written != len(before1)+len(before2) {
		t.Errorf("point-in-time restore wrote %d, want %d", rep.Written, len(before1)+len(before2))
	}
	checkRestoredBook(t, r, before1)
}

// bookNames lists the collections in the user's home.
func (r *radicale) bookNames() []string {
	r.t.Helper()
	code, b := r.do("PROPFIND", r.home(), map[string]string{"Depth": "1"}, []byte(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>`))
	if code != http.StatusMultiStatus {
		r.t.Fatalf("PROPFIND home: %d %s", code, b)
	}
	var out []string
	for _, href := range hrefs(b) {
		href = strings.TrimSuffix(href, "/")
		if name := href[strings.LastIndex(href, "/")+1:]; !strings.Contains(r.home(), "/"+name+"/") {
			out = append(out, name)
		}
	}
	return out
}

var hrefRE = regexp.MustCompile(`<(?:[A-Za-z]+:)?href>([^<]*)</(?:[A-Za-z]+:)?href>`)

// hrefs returns the (decoded) hrefs of a multistatus body.
func hrefs(b []byte) []string {
	var out []string
	for _, m := range hrefRE.FindAllSubmatch(b, -1) {
		h, err := url.PathUnescape(string(m[1]))
		if err != nil {
			h = string(m[1])
		}
		out = append(out, h)
	}
	return out
}

// checkExport exports snap and compares every file with the GET bytes: one
// .vcf per card and a merged .vcf per book.
func checkExport(t *testing.T, repo *engine.Repository, snap2 *engine.Snapshot, email string, after1, before2 map[string][]byte) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export")
	if _, err := export.Export(context.Background(), repo, snap2, engine.Selection{Sources: []string{"contacts"}}, export.Options{Out: out}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(out, email, "contacts")
	var merged []byte
	for name, want := range after1 {
		got, err := os.ReadFile(filepath.Join(dir, "1", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("export 1/%s: %d bytes, err %v; want the %d GET bytes", name, len(got), err, len(want))
		}
	}
	merged, err := os.ReadFile(filepath.Join(dir, "1.vcf"))
	if err != nil || bytes.Count(merged, []byte("BEGIN:VCARD")) != len(after1) || !bytes.Contains(merged, after1["odd.vcf"]) {
		t.Errorf("merged 1.vcf: %d bytes, %d cards, err %v; want %d cards incl. odd.vcf verbatim", len(merged), bytes.Count(merged, []byte("BEGIN:VCARD")), err, len(after1))
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "2", "big.vcf")); !bytes.Equal(got, before2["big.vcf"]) {
		t.Errorf("export 2/big.vcf: %d bytes, want %d", len(got), len(before2["big.vcf"]))
	}
}

// checkRestoredBook finds the non-destructively restored book holding
// want's number of cards and compares it with want.
func checkRestoredBook(t *testing.T, r *radicale, before1 map[string][]byte) {
	t.Helper()
	found := false
	for _, name := range r.bookNames() {
		if !strings.HasPrefix(name, "restored-") {
			continue
		}
		got := r.book(name)
		if len(got) == len(before1) {
			sameSet(t, "point-in-time book 1", got, before1)
			found = true
		}
	}
	if !found {
		t.Errorf("no restored book with the %d cards of snap1 among %v", len(before1), r.bookNames())
	}
}
