package mail

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sources"
)

// TestRestoreThroughput measures, on the corpus of TestThroughput (users ×
// 4 folders × 300 messages, ~95% 2–50 KB, 5% 0.5–5 MB), a full engine backup
// and then a restore into the wiped mailboxes, against the demo server and
// both Dovecots, and the restore with APPEND pipelining off. Repository on
// sinks/mem (the IMAP side is measured, not the disk). Only with
// Y360_MAIL_BENCH=1 (Y360_MAIL_BENCH_USERS overrides the 3 users); the
// numbers are logged, not asserted, except that everything comes back.
func TestRestoreThroughput(t *testing.T) {
	if os.Getenv("Y360_MAIL_BENCH") != "1" {
		t.Skip("set Y360_MAIL_BENCH=1 to measure throughput")
	}
	users := 3
	if n, err := strconv.Atoi(os.Getenv("Y360_MAIL_BENCH_USERS")); err == nil && n > 0 {
		users = n
	}
	const perFolder = 300
	folderNames := []string{"INBOX", "Проекты", "Sent", "Lists"}

	type target struct {
		name string
		peer func(t *testing.T, window int) *restorePeer
	}
	targets := []target{{"demo", func(t *testing.T, window int) *restorePeer {
		return demoPeer(t, nil, func(c *Config) { c.AppendPipeline = window })
	}}}
	for _, env := range []string{"Y360_TEST_DOVECOT_ADDR", "Y360_TEST_DOVECOT_YANDEX_ADDR"} {
		if os.Getenv(env) == "" {
			continue
		}
		targets = append(targets, target{env, func(t *testing.T, window int) *restorePeer {
			return dovecotRestorePeer(t, env, env, SecurityPlain, func(c *Config) { c.AppendPipeline = window; c.BatchSize = 100 })
		}})
	}
	for _, tg := range targets {
		for _, window := range []int{DefaultAppendPipeline, 1} {
			t.Run(fmt.Sprintf("%s/pipeline%d", tg.name, window), func(t *testing.T) {
				p := tg.peer(t, window)
				run := time.Now().UnixNano()
				var msgs int
				var size int64
				var emails []string
				seedStart := time.Now()
				for u := 0; u < users; u++ {
					email := fmt.Sprintf("rbench%d-%d@example.org", u, run)
					emails = append(emails, email)
					s := p.client(t, email)
					for f, name := range folderNames {
						if name != "INBOX" && (name != "Sent" || p.demo != nil) { // Dovecot auto-creates Sent
							s.create(name)
						}
						for i := 0; i < perFolder; i++ {
							msg, date := benchMessage(u, f, i)
							s.append(name, msg, date, imap.FlagSeen)
							msgs++
							size += int64(len(msg))
						}
					}
				}
				seedTime := time.Since(seedStart) // imapclient, one synchronous APPEND at a time
				lst := make(lister, 0, users)
				for _, e := range emails {
					lst = append(lst, userFor(e))
				}
				t0 := time.Now()
				snap, err := p.repo.Backup(context.Background(), engine.RunOptions{Users: lst, Sources: []sources.Source{p.src},
					Tokens: p.tokens, Concurrency: 1})
				if err != nil || snap.Status != engine.StatusOK {
					t.Fatalf("backup: %v, %v", err, snap)
				}
				bt := time.Since(t0)
				for _, e := range emails {
					p.client(t, e).wipe()
				}
				opts := p.opts(snap)
				opts.InPlace = true
				t0 = time.Now()
				rep := p.restore(t, opts)
				rt := time.Since(t0)
				if rep.Written != msgs {
					t.Errorf("restored %d of %d messages", rep.Written, msgs)
				}
				got := 0
				for _, e := range emails {
					got += countAll(p.client(t, e).account())
				}
				if got != msgs {
					t.Errorf("%d messages after the restore, want %d", got, msgs)
				}
				mb := float64(size) / 1e6
				t.Logf("%s pipeline %d: %d msgs, %.1f MB: backup %v = %.0f msgs/s, %.1f MB/s; restore %v = %.0f msgs/s, %.1f MB/s (%.2f× the backup time); seeding with imapclient %.0f msgs/s",
					tg.name, window, msgs, mb, bt.Round(time.Millisecond), float64(msgs)/bt.Seconds(), mb/bt.Seconds(),
					rt.Round(time.Millisecond), float64(msgs)/rt.Seconds(), mb/rt.Seconds(), rt.Seconds()/bt.Seconds(), float64(msgs)/seedTime.Seconds())
			})
		}
	}
}
