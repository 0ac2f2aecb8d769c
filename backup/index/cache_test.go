package index

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func openT(t testing.TB, dir string, opts ...Option) *Cache {
	t.Helper()
	c, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func locOf(pack ID, e Entry) Location {
	return Location{Pack: pack, Type: e.Type, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength}
}

// wantPacks checks that every blob of packs is found at its location.
func wantPacks(t *testing.T, c *Cache, packs []packRec) {
	t.Helper()
	for _, p := range packs {
		for _, e := range p.Entries {
			got, ok, err := c.Lookup(e.ID)
			if err != nil || !ok || got != locOf(p.Pack, e) {
				t.Fatalf("lookup %s: %+v %v %v, want %+v", e.ID, got, ok, err, locOf(p.Pack, e))
			}
		}
	}
}

func wantMissing(t *testing.T, c *Cache, packs []packRec) {
	t.Helper()
	for _, p := range packs {
		for _, e := range p.Entries {
			if _, ok, err := c.Lookup(e.ID); ok || err != nil {
				t.Fatalf("lookup %s: found %v, err %v; want missing", e.ID, ok, err)
			}
		}
	}
}

func ingestT(t *testing.T, c *Cache, name string, packs []packRec) {
	t.Helper()
	n, err := c.Ingest(name, bytes.NewReader(encode(t, packs)))
	want := 0
	for _, p := range packs {
		want += len(p.Entries)
	}
	if err != nil || n != want {
		t.Fatalf("ingest %s: %d blobs, %v; want %d", name, n, err, want)
	}
}

func TestIngestLookup(t *testing.T) {
	c := openT(t, t.TempDir())
	packs := testPacks(20, 20, 50)
	ingestT(t, c, "a", packs)
	wantPacks(t, c, packs)
	wantMissing(t, c, testPacks(21, 3, 5))
	if ok, err := c.Ingested("a"); !ok || err != nil {
		t.Fatalf("Ingested(a) = %v, %v", ok, err)
	}
	if ok, _ := c.Ingested("b"); ok {
		t.Fatal("Ingested(b) before ingesting it")
	}
	// Idempotent: the same file again changes nothing.
	ingestT(t, c, "a", packs)
	wantPacks(t, c, packs)
}

// A blob in several packs keeps the first location seen.
func TestFirstLocationKept(t *testing.T) {
	c := openT(t, t.TempDir())
	first := testPacks(22, 2, 5)
	ingestT(t, c, "first", first)
	second := testPacks(23, 1, 5)
	second[0].Entries = append(second[0].Entries, first[1].Entries[0])
	second[0].Entries[len(second[0].Entries)-1].Offset++
	ingestT(t, c, "second", second)
	wantPacks(t, c, first)
	// Duplicates inside one batch too.
	third := testPacks(24, 2, 5)
	third[1].Entries = append(third[1].Entries, third[0].Entries[0])
	third[1].Entries[len(third[1].Entries)-1].Offset++
	ingestT(t, c, "third", third)
	wantPacks(t, c, third[:1])
}

func TestIngestRefusesBadFile(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	packs := testPacks(25, 5, 20)
	file := encode(t, packs)
	bad := map[string][]byte{
		"truncated": file[:len(file)-3],
		"bit flip":  patch(file, len(file)/2, file[len(file)/2]^1),
		"garbage":   []byte("not an index"),
	}
	for name, b := range bad {
		if _, err := c.Ingest(name, bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if ok, _ := c.Ingested(name); ok {
			t.Errorf("%s: marked ingested", name)
		}
	}
	wantMissing(t, c, packs)
	if spools, _ := filepath.Glob(filepath.Join(dir, spoolPattern)); len(spools) > 0 {
		t.Fatalf("spools left: %v", spools)
	}
}

// An ingest stopped between batches leaves its name unmarked; the next
// process ingests it again and ends with every blob.
func TestIngestStoppedIsRedone(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	c.batch = 100
	r := rand.New(rand.NewPCG(26, 1))
	big := packRec{Pack: randID(r)}
	for range c.batch*2 + 10 {
		big.Entries = append(big.Entries, Entry{Type: TypeData, ID: randID(r), Length: 1})
	}
	packs := []packRec{big}
	stop := errors.New("crash")
	testHookBatch = func() error { return stop }
	_, err := c.Ingest("f", bytes.NewReader(encode(t, packs)))
	testHookBatch = nil
	if !errors.Is(err, stop) {
		t.Fatalf("ingest: %v", err)
	}
	if ok, _ := c.Ingested("f"); ok {
		t.Fatal("stopped ingest marked")
	}
	if _, ok, _ := c.Lookup(big.Entries[0].ID); !ok {
		t.Fatal("first batch should be committed")
	}
	c.Close()
	c = openT(t, dir)
	ingestT(t, c, "f", packs)
	wantPacks(t, c, packs)
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, WithRepoID("repo-1"))
	packs := testPacks(27, 10, 30)
	ingestT(t, c, "a", packs)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openT(t, dir)
	wantPacks(t, c, packs)
	if ok, _ := c.Ingested("a"); !ok || c.RepoID() != "repo-1" {
		t.Fatalf("after reopen: ingested %v, repo %q", ok, c.RepoID())
	}
}

// Blobs added for a pack whose index file was never ingested are dropped at
// the next Open; those of a pack since ingested stay.
func TestPendingPacks(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	packs := testPacks(28, 3, 10)
	for _, p := range packs {
		if err := c.Add(p.Pack, p.Entries); err != nil {
			t.Fatal(err)
		}
	}
	wantPacks(t, c, packs)
	// packs[1] gets its index file. packs[2]'s first blob is also in an
	// indexed pack elsewhere, which replaces the pending location.
	other := testPacks(29, 1, 3)
	other[0].Entries = append(other[0].Entries, packs[2].Entries[0])
	indexed := []packRec{packs[1], other[0]}
	ingestT(t, c, "mine", indexed)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = openT(t, dir)
	wantMissing(t, c, packs[:1])
	wantPacks(t, c, indexed)
	wantMissing(t, c, []packRec{{packs[2].Pack, packs[2].Entries[1:]}})
	// Nothing pending is left to drop.
	if err := c.scan([]byte{prefixPending}, func(k, _ []byte) error { return errors.New("pending key left") }); err != nil {
		t.Fatal(err)
	}
	if err := c.scan([]byte{prefixMember}, func(k, _ []byte) error { return errors.New("member key left") }); err != nil {
		t.Fatal(err)
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	c := openT(t, t.TempDir())
	if err := c.Add(ID{}, []Entry{{Type: TypeData}}); err == nil {
		t.Error("zero pack accepted")
	}
	if err := c.Add(ID{1}, []Entry{{Type: 7}}); err == nil {
		t.Error("bad type accepted")
	}
	if _, err := c.Ingest("", bytes.NewReader(encode(t, nil))); err == nil {
		t.Error("empty name accepted")
	}
}

func wantInvalid(t *testing.T, dir string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCacheInvalid) || !strings.Contains(err.Error(), "delete "+dir+", it is rebuilt from the repository") {
		t.Fatalf("got %v, want ErrCacheInvalid telling to delete %s", err, dir)
	}
}

func TestRepoIDMismatch(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, WithRepoID("repo-a"))
	c.Close()
	_, err := Open(dir, WithRepoID("repo-b"))
	wantInvalid(t, dir, err)
	c = openT(t, dir, WithRepoID("repo-a"))
	if c.RepoID() != "repo-a" {
		t.Fatalf("RepoID %q", c.RepoID())
	}
}

func TestForeignDirRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	wantInvalid(t, dir, err)
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("Open wrote into a foreign directory: %v", ents)
	}
	// Another program's pebble database.
	dir = t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	db.Set([]byte("users/1"), []byte("x"), pebble.Sync)
	db.Close()
	_, err = Open(dir)
	wantInvalid(t, dir, err)
}

func TestCorruptDirRefused(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir)
	ingestT(t, c, "a", testPacks(30, 3, 3))
	c.Close()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "MANIFEST") {
			os.WriteFile(filepath.Join(dir, e.Name()), bytes.Repeat([]byte{0x5a}, 4096), 0o600)
		}
	}
	_, err := Open(dir)
	wantInvalid(t, dir, err)
}

func TestConcurrentUse(t *testing.T) {
	c := openT(t, t.TempDir())
	base := testPacks(31, 5, 20)
	ingestT(t, c, "base", base)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			packs := testPacks(uint64(40+i), 5, 20)
			if i%2 == 0 {
				ingestT(t, c, string(rune('a'+i)), packs)
			} else {
				for _, p := range packs {
					if err := c.Add(p.Pack, p.Entries); err != nil {
						t.Error(err)
					}
				}
			}
			wantPacks(t, c, base)
		}()
	}
	wg.Wait()
}

// A cache in use is not called corrupt: deleting it would not help.
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir)
	_, err := Open(dir)
	if err == nil || errors.Is(err, ErrCacheInvalid) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open: %v", err)
	}
}
