package mail

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// TestThroughput measures full and no-change backups of a corpus of
// 3 users × 4 folders × 300 messages (about 95% text of 2–50 KB, 5% with a
// 0.5–5 MB attachment, like shared/bench/corpus.py) against the demo server
// and, when configured, Dovecot. It only runs with Y360_MAIL_BENCH=1; the
// numbers are logged, not asserted.
func TestThroughput(t *testing.T) {
	if os.Getenv("Y360_MAIL_BENCH") != "1" {
		t.Skip("set Y360_MAIL_BENCH=1 to measure throughput")
	}
	const users, folders, perFolder = 3, 4, 300
	folderNames := []string{"INBOX", "Проекты", "Sent", "Lists"}
	corpus := benchMessage
	type target struct {
		name string
		src  *Source
		seed func(email, folder string, msg []byte, date time.Time)
		mk   func(email, folder string)
	}
	var targets []target

	demo, err := imapdemo.Start(demoValidate, &imapdemo.Options{DefaultFolders: []imapdemo.Folder{}})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	targets = append(targets, target{
		name: "demo",
		src:  New(Config{Addr: demo.Addr(), Security: SecurityPlain}),
		seed: func(email, folder string, msg []byte, date time.Time) {
			if _, err := demo.Append(email, folder, msg, []imap.Flag{imap.FlagSeen}, date); err != nil {
				t.Fatal(err)
			}
		},
		mk: func(email, folder string) { demo.CreateFolder(email, folder) },
	})
	for _, env := range []string{"Y360_TEST_DOVECOT_ADDR", "Y360_TEST_DOVECOT_YANDEX_ADDR"} {
		addr := os.Getenv(env)
		if addr == "" {
			continue
		}
		seeders := map[string]*imapSeeder{}
		targets = append(targets, target{
			name: env,
			src:  New(Config{Addr: addr, Security: SecurityPlain}),
			seed: func(email, folder string, msg []byte, date time.Time) {
				seeders[email].append(folder, msg, date, imap.FlagSeen)
			},
			mk: func(email, folder string) {
				if seeders[email] == nil {
					seeders[email] = newSeeder(t, addr, email)
				}
				if folder != "INBOX" && folder != "Sent" {
					seeders[email].create(folder)
				}
			},
		})
	}

	for _, tg := range targets {
		run := time.Now().UnixNano()
		var emails []string
		var msgs int
		var bytes int64
		seedStart := time.Now()
		for u := 0; u < users; u++ {
			email := fmt.Sprintf("bench%d-%d@example.org", u, run)
			emails = append(emails, email)
			for f := 0; f < folders; f++ {
				tg.mk(email, folderNames[f])
				for i := 0; i < perFolder; i++ {
					msg, date := corpus(u, f, i)
					tg.seed(email, folderNames[f], msg, date)
					msgs++
					bytes += int64(len(msg))
				}
			}
		}
		seedTime := time.Since(seedStart)
		stores := map[string]*sourcetest.MemStore{} // one store per (user, source), as in the engine
		for _, email := range emails {
			stores[email] = sourcetest.New()
		}
		measure := func() time.Duration {
			start := time.Now()
			for _, email := range emails {
				err := tg.src.Backup(context.Background(), testUser(email), tokensForTarget(tg.name, email), hashStore{stores[email]})
				if err != nil {
					t.Fatal(err)
				}
			}
			return time.Since(start)
		}
		full := measure()
		stored := 0
		for _, mem := range stores {
			for _, name := range mem.Containers() {
				stored += len(mem.Items(name))
			}
		}
		if stored != msgs {
			t.Fatalf("%s: %d items stored, want %d", tg.name, stored, msgs)
		}
		incr := measure()
		t.Logf("%s: %d msgs, %.1f MB (seeded in %v): full %v = %.0f msgs/s, %.1f MB/s; no-change run %v",
			tg.name, msgs, float64(bytes)/1e6, seedTime.Round(time.Millisecond), full.Round(time.Millisecond),
			float64(msgs)/full.Seconds(), float64(bytes)/1e6/full.Seconds(), incr.Round(time.Millisecond))
	}
}

// benchMessage is message i of folder f of user u in the throughput corpus:
// about 95% text of 2–50 KB, 5% with 0.5–5 MB, sizes log-uniform, like
// shared/bench/corpus.py; deterministic.
func benchMessage(u, f, i int) ([]byte, time.Time) {
	rng := rand.New(rand.NewSource(int64(u*1_000_000 + f*10_000 + i)))
	size := int(math.Exp(math.Log(2e3) + rng.Float64()*(math.Log(50e3)-math.Log(2e3))))
	if rng.Intn(20) == 0 {
		size = int(math.Exp(math.Log(0.5e6) + rng.Float64()*(math.Log(5e6)-math.Log(0.5e6))))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender%d@example.org\r\nTo: user%d@example.org\r\nSubject: message %d/%d\r\n"+
		"Message-Id: <bench-%d-%d-%d@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", i, u, f, i, u, f, i)
	line := fmt.Sprintf("Строка %d текста письма, line of text %x.\r\n", i, rng.Int63())
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String()), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int63n(int64(3 * 365 * 24 * time.Hour))))
}

func tokensForTarget(target, email string) *sourcetest.StaticTokens {
	if target == "demo" {
		return tokensFor(email)
	}
	return &sourcetest.StaticTokens{Tok: dovecotToken(email)}
}
