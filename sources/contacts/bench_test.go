package contacts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/contacts"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// discardStore hashes bodies and keeps only item records, so a benchmark's
// allocations are the source's (and the HTTP stack's), not the store's.
type discardStore struct {
	items map[string]map[string]sources.Item
}

func (s *discardStore) Containers() []string { return nil }
func (s *discardStore) Open(_ context.Context, name string) (sources.Container, error) {
	if s.items[name] == nil {
		s.items[name] = map[string]sources.Item{}
	}
	return &discardContainer{name: name, items: s.items[name]}, nil
}
func (s *discardStore) Remove(context.Context, string) error { return nil }
func (s *discardStore) Fail(item string, err error)          { panic(item + ": " + err.Error()) }
func (s *discardStore) Skip(item, cause string)              { panic(item + ": " + cause) }

type discardContainer struct {
	name  string
	items map[string]sources.Item
}

func (c *discardContainer) Name() string                       { return c.name }
func (c *discardContainer) Cursor() json.RawMessage            { return nil }
func (c *discardContainer) Get(id string) (sources.Item, bool) { it, ok := c.items[id]; return it, ok }
func (c *discardContainer) Range(fn func(sources.Item) bool) {
	for _, it := range c.items {
		if !fn(it) {
			return
		}
	}
}
func (c *discardContainer) Len() int { return len(c.items) }
func (c *discardContainer) PutBody(_ context.Context, r io.Reader) (sources.Body, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return sources.Body{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}, err
}
func (c *discardContainer) HasBody(context.Context, string) bool { return false }
func (c *discardContainer) Put(it sources.Item)                  { c.items[it.ID] = it }
func (c *discardContainer) SetMeta(string, json.RawMessage)      {}
func (c *discardContainer) Delete(id string)                     { delete(c.items, id) }
func (c *discardContainer) Reset()                               { clear(c.items) }
func (c *discardContainer) Due() bool                            { return false }
func (c *discardContainer) Commit(context.Context, any) error    { return nil }
func (c *discardContainer) Close() error                         { return nil }

// benchBackup runs full backups (a fresh store each time) of what seed put
// in the emulator and reports the live heap's peak growth per run.
func benchBackup(b *testing.B, seed func(emu *y360emu.Server, email string)) {
	emu := y360emu.New(y360emu.Options{})
	base := emu.Start()
	defer emu.Close()
	email := "bench@example.org"
	seed(emu, email)
	cfg := contacts.NewConfig()
	cfg.URL = base + "/"
	src := contacts.New(cfg, &http.Client{})
	tok := &sourcetest.StaticTokens{Tok: emu.MintToken(email)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := src.Backup(context.Background(), user(email), tok, &discardStore{items: map[string]map[string]sources.Item{}}); err != nil {
			b.Fatal(err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heapsys-MiB")
}

// One 5 MB contact (a PHOTO): B/op shows whether the card is held.
func BenchmarkBackupBigContact(b *testing.B) {
	benchBackup(b, func(emu *y360emu.Server, email string) {
		emu.ContactsPut(email, "1", "big.vcf", []byte(bigCard("big", 5<<20)))
	})
}

// A book of 5,000 contacts: throughput and per-card cost.
func BenchmarkBackupManyContacts(b *testing.B) {
	benchBackup(b, func(emu *y360emu.Server, email string) {
		for i := 0; i < 5000; i++ {
			emu.ContactsPut(email, "1", fmt.Sprintf("c-%05d.vcf", i), []byte(card(fmt.Sprintf("c-%05d", i), fmt.Sprintf("Person %d", i))))
		}
	})
}
