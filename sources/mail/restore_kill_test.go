package mail

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	engine "github.com/y360backup/y360backup/backup"
)

// TestRestoreKill9Dovecot is the restore's kill -9 harness (issue 16.3): an
// in-place restore on the real Dovecot is killed, episode after episode,
// 1-4 times in a row and rerun at once each time, then run to completion;
// the account must then hold every backed-up message exactly once with its
// bytes, flags and date. A kill here is what kill -9 does to the process:
// its context ends and every connection it has is closed at once (with RST),
// so nothing of the killed restore runs on, while Dovecot's session may
// still commit the APPENDs it had received, which is what made duplicates.
// Kill instants: half after the n-th APPEND was written (n uniform over the
// corpus, so pipelined APPENDs are in flight), half uniform in [0, D], D an
// uninterrupted restore.
//
//	Y360_RESTORE_KILLS   kills (default 100)
//	Y360_CRASH_SEED      replay a schedule (the seed is logged)
//	Y360_RESTORE_DEDUPE_OFF=1  run without the post-pass (shows the failure)
func TestRestoreKill9Dovecot(t *testing.T) {
	kills := 100
	if v, err := strconv.Atoi(os.Getenv("Y360_RESTORE_KILLS")); err == nil && v > 0 {
		kills = v
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("Y360_CRASH_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("Y360_CRASH_SEED=%d", seed)
	if os.Getenv("Y360_RESTORE_DEDUPE_OFF") == "1" {
		dedupeOff = true
		defer func() { dedupeOff = false }()
	}
	rng := rand.New(rand.NewPCG(seed, 16))
	p := dovecotRestorePeer(t, "dovecot", "Y360_TEST_DOVECOT_ADDR", SecurityPlain,
		func(c *Config) { c.RestoreJournalDir = t.TempDir() })
	email := uniq("kill9") + "@example.org"
	s := p.client(t, email)
	total := seedKillCorpus(s, uniq("k9"))
	before := s.account()
	snap := p.backup(t, email)
	opts := p.opts(snap)
	opts.InPlace = true

	s.wipe()
	start := time.Now()
	p.restore(t, opts)
	d := time.Since(start)
	sameAccount(t, s.account(), before, nil)

	k := &killer{}
	p.src.wrapConn = k.wrap
	defer func() { p.src.wrapConn = nil }()
	removed0 := dedupeRemoved.Load()
	episodes, bad, done := 0, 0, 0
	for done < kills {
		episodes++
		s.wipe()
		for n := 1 + rng.IntN(4); n > 0 && done < kills; n-- {
			if rng.IntN(2) == 0 {
				k.runKilled(t, p, opts, 0, 1+int64(rng.IntN(total)))
			} else {
				k.runKilled(t, p, opts, time.Duration(rng.Int64N(int64(d)+1)), 0)
			}
			done++
		}
		p.restore(t, opts)
		if got := countAll(s.account()); got != total {
			bad++
			t.Errorf("episode %d: %d messages after the final run, want %d", episodes, got, total)
			continue
		}
		sameAccount(t, s.account(), before, nil)
	}
	t.Logf("%d kills over %d episodes (uninterrupted restore %v, %d messages): %d episodes with a wrong count; "+
		"the post-pass removed %d duplicates", done, episodes, d.Round(time.Millisecond), total, bad, dedupeRemoved.Load()-removed0)
}

// seedKillCorpus fills INBOX and one folder: messages with Message-Ids, ones
// without (two of the same size and date), and one message present twice.
func seedKillCorpus(s *imapSeeder, id string) int {
	noID := func(subject, body string) []byte {
		return []byte("From: robot@example.org\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n")
	}
	n := 0
	for i := 0; i < 48; i++ {
		s.append("INBOX", message(fmt.Sprintf("%s-%d", id, i), "k", strings.Repeat("x", 200+i*37)), baseDate.Add(time.Duration(i)*time.Minute))
		n++
	}
	same := time.Date(2020, 2, 29, 23, 59, 59, 0, time.UTC)
	for _, b := range []string{"twin A", "twin B", "lone C"} {
		s.append("INBOX", noID(b, "no Message-Id"), same)
		n++
	}
	dup := message(id+"-dup", "twice", "the same message twice")
	s.append("INBOX", dup, baseDate)
	s.append("INBOX", dup, baseDate)
	n += 2
	s.create("Sub")
	for i := 0; i < 16; i++ {
		s.append("Sub", message(fmt.Sprintf("%s-s%d", id, i), "sub", strings.Repeat("z", 50+i)), baseDate)
		n++
	}
	return n
}

// killer closes every connection of the restore it kills.
type killer struct {
	mu     sync.Mutex
	conns  []net.Conn
	target int64 // kill after this many APPEND lines (0 = not by count)
	sent   int64
	kill   func()
}

func (k *killer) wrap(c net.Conn) net.Conn {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conns = append(k.conns, c)
	return &watchedConn{Conn: c, w: &appendWatch{fn: func(int64, net.Conn) {
		k.mu.Lock()
		k.sent++
		hit := k.target > 0 && k.sent == k.target
		k.mu.Unlock()
		if hit {
			k.kill()
		}
	}}}
}

// runKilled runs a restore and kills it after wait, or after the target-th
// APPEND; it returns when the killed restore has returned.
func (k *killer) runKilled(t *testing.T, p *restorePeer, opts engine.RestoreOptions, wait time.Duration, target int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	k.mu.Lock()
	k.conns, k.sent, k.target = nil, 0, target
	k.kill = func() {
		once.Do(func() {
			cancel()
			k.mu.Lock()
			defer k.mu.Unlock()
			for _, c := range k.conns {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				_ = c.Close()
			}
		})
	}
	k.mu.Unlock()
	doneCh := make(chan struct{})
	go func() {
		defer close(doneCh)
		_, _ = p.repo.Restore(ctx, opts)
	}()
	if target == 0 {
		select {
		case <-time.After(wait):
			k.kill()
		case <-doneCh:
		}
	}
	select {
	case <-doneCh:
	case <-time.After(time.Minute):
		t.Fatal("killed restore did not return")
	}
	k.kill() // a restore that ended before its kill instant
}
