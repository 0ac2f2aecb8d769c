package mail

import (
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/internal/imapdemo"
)

// latencyProxy forwards TCP connections to target, delaying every chunk by
// delay in each direction (a round trip costs 2×delay), preserving order.
type latencyProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration
	wg     sync.WaitGroup
}

func startLatencyProxy(t *testing.T, target string, delay time.Duration) *latencyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &latencyProxy{ln: ln, target: target, delay: delay}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.wg.Add(2)
			go func() { defer p.wg.Done(); p.pipe(s, c) }()
			go func() { defer p.wg.Done(); p.pipe(c, s) }()
		}
	}()
	return p
}

func (p *latencyProxy) Addr() string { return p.ln.Addr().String() }

// pipe copies src to dst, each chunk delay after it was read.
func (p *latencyProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{time.Now(), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at.Add(p.delay)))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	for range ch {
	}
	dst.Close()
	src.Close()
}

// TestRestoreLatency measures a restore of 300 small messages (2–50 KB)
// through a proxy adding a round trip of 2×delay, as to a distant server:
// pipelined LITERAL+ APPENDs, one at a time, and without LITERAL+ (what
// imapclient does), next to the backup of the same messages. Only with
// Y360_MAIL_BENCH=1; logged, not asserted.
func TestRestoreLatency(t *testing.T) {
	if os.Getenv("Y360_MAIL_BENCH") != "1" {
		t.Skip("set Y360_MAIL_BENCH=1 to measure throughput")
	}
	const delay = 10 * time.Millisecond
	cases := []struct {
		name   string
		window int
		caps   imap.CapSet
	}{
		{"pipeline 8, LITERAL+", 8, nil},
		{"pipeline 32, LITERAL+", 32, nil},
		{"pipeline 1, LITERAL+", 1, nil},
		{"pipeline 1, synchronizing literals", 1, withoutLiteralPlus()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startDemo(t, &imapdemo.Options{Caps: tc.caps})
			proxy := startLatencyProxy(t, srv.Addr(), delay)
			p := &restorePeer{name: "demo via proxy", addr: srv.Addr(), demo: srv, token: func(e string) string { return "tok-" + e },
				src: New(Config{Addr: proxy.Addr(), Security: SecurityPlain, AppendPipeline: tc.window, Timeout: time.Minute})}
			p.newRepo(t)
			email := uniq("lat") + "@example.org"
			var size int64
			n := 0
			for i := 0; n < 300; i++ {
				msg, date := benchMessage(9, 0, i)
				if len(msg) > 60<<10 {
					continue
				}
				if _, err := srv.Append(email, "INBOX", msg, []imap.Flag{imap.FlagSeen}, date); err != nil {
					t.Fatal(err)
				}
				n++
				size += int64(len(msg))
			}
			t0 := time.Now()
			snap := p.backup(t, email)
			bt := time.Since(t0)
			p.client(t, email).wipe()
			opts := p.opts(snap)
			opts.InPlace = true
			t0 = time.Now()
			rep := p.restore(t, opts)
			rt := time.Since(t0)
			if rep.Written != n {
				t.Fatalf("restored %d of %d", rep.Written, n)
			}
			t.Logf("RTT %v, %s: %d msgs, %.1f MB: backup %v (%.0f msgs/s), restore %v = %.0f msgs/s, %.2f MB/s",
				2*delay, tc.name, n, float64(size)/1e6, bt.Round(time.Millisecond), float64(n)/bt.Seconds(),
				rt.Round(time.Millisecond), float64(n)/rt.Seconds(), float64(size)/1e6/rt.Seconds())
		})
	}
}

func withoutLiteralPlus() imap.CapSet {
	caps := imapdemo.YandexCaps()
	delete(caps, imap.CapLiteralPlus)
	return caps
}
