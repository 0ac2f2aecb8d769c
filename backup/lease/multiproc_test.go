package lease

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Four processes race for the same names on one fs repository, each round
// starting at the same wall-clock instant: every name has exactly one winner
// per round, and epochs grow from round to round.
func TestMultiProcessContention(t *testing.T) {
	t.Parallel() // long TTLs: load cannot change the outcome, only the time
	const procs, rounds = 4, 20
	root := t.TempDir()
	c := childCfg{Mode: "race", Dir: filepath.Join(root, "repo"), Barrier: filepath.Join(root, "barrier"),
		Procs: procs, Rounds: rounds, Names: []string{"u/1/mail", "u/2/mail", "u/3/disk"},
		Start: time.Now().Add(1500 * time.Millisecond).UnixNano(), Period: 100 * time.Millisecond,
		TTL: 20 * time.Second, Refresh: 2 * time.Second}
	if err := os.Mkdir(c.Barrier, 0o755); err != nil {
		t.Fatal(err)
	}
	ps := make([]*proc, procs)
	for i := range ps {
		c.ID = i
		ps[i] = startChild(t, c)
	}
	type win struct {
		proc  int
		epoch uint64
	}
	wins := map[int]map[string][]win{}
	winners := map[int]bool{}
	for i, p := range ps {
		for line := range p.lines {
			var r int
			var name string
			var epoch uint64
			if _, err := fmt.Sscanf(line, "WIN %d %s %d", &r, &name, &epoch); err != nil {
				t.Errorf("child %d: %q", i, line)
				continue
			}
			if wins[r] == nil {
				wins[r] = map[string][]win{}
			}
			wins[r][name] = append(wins[r][name], win{i, epoch})
			winners[i] = true
		}
		if err := <-p.done; err != nil {
			t.Fatalf("child %d: %v; stderr: %s", i, err, p.stderr.String())
		}
	}
	last := map[string]uint64{}
	for r := range rounds {
		for _, name := range c.Names {
			ws := wins[r][name]
			if len(ws) != 1 {
				t.Fatalf("round %d, %s: winners %v, want exactly one", r, name, ws)
			}
			if ws[0].epoch <= last[name] {
				t.Errorf("round %d, %s: epoch %d not above %d", r, name, ws[0].epoch, last[name])
			}
			last[name] = ws[0].epoch
		}
	}
	if len(winners) < 2 {
		t.Errorf("only processes %v ever won: they did not really race", winners)
	}
}

// A holder killed with SIGKILL writes no release marker; a process polling
// for the lease takes it over within TTL + refresh, and not while the holder
// was alive and refreshing.
func TestMultiProcessKilledHolder(t *testing.T) {
	const ttl, refresh = 3 * time.Second, 500 * time.Millisecond // margins for a loaded machine: the holder must refresh in time
	c := childCfg{Dir: filepath.Join(t.TempDir(), "repo"), Names: []string{"u/1/mail"}, TTL: ttl, Refresh: refresh}
	c.Mode, c.ID = "hold", 0
	holder := startChild(t, c)
	holder.expect(t, "HELD 1", 30*time.Second)
	c.Mode, c.ID = "take", 1
	taker := startChild(t, c)
	taker.expect(t, "WAITING", 30*time.Second)

	time.Sleep(2 * ttl) // the taker keeps polling; heartbeats keep it out
	select {
	case line := <-taker.lines:
		t.Fatalf("taker got %q while the holder was alive", line)
	default:
	}
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-holder.done

	fields := strings.Fields(taker.expect(t, "TOOK 2 ", ttl+refresh+5*time.Second))
	ns, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Unix(0, ns).Sub(killed)
	t.Logf("taken over %s after the kill (TTL %s, refresh %s)", took, ttl, refresh)
	if took <= 0 || took > ttl+refresh {
		t.Errorf("taken over %s after the kill, want within TTL + refresh = %s", took, ttl+refresh)
	}
	if err := <-taker.done; err != nil {
		t.Errorf("taker: %v; stderr: %s", err, taker.stderr.String())
	}
}
