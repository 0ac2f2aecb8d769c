package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/lease"
)

// The concurrency harness: four processes of the real binary back up
// overlapping lists of users into ONE repository on versitygw, released
// together from a barrier, round after round with new mail for everyone.
// Per round it checks, from the processes' logs (lease acquired/released,
// source start/done, with timestamps of the one host clock) and from their
// snapshots:
//   - no lease is held by two processes at overlapping times, and no user's
//     mail is being backed up by two processes at overlapping times;
//   - each process backed up a user only inside its lease of the user's
//     bucket, and its snapshot lists as backed up (not carried) exactly the
//     users it logged, as carried the rest of its list;
//   - every user is backed up by at least one process (one that found it
//     busy carried it), and its mail is whole (every message, the same
//     bytes, nothing else) in the snapshot of the process that did;
//   - the newest snapshot holds every message too (writers that finish
//     together merge their snapshots afterwards; before that fix the newest
//     one missed users a concurrent writer had backed up).
// After the rounds verify must pass, and a lone writer's snapshot must be
// whole. Then a writer is SIGKILLed while it holds leases: its users must
// be taken over by another process once the lease TTL has run out, not
// before.
//
//	Y360_CONCURRENT_ROUNDS   rounds (default 5; the long run is 50)

const concurrentTTL = 6 * time.Second // versitygw's ModTimes are whole seconds: keep TTL/2 well above 1 s

func TestConcurrentWriters(t *testing.T) {
	rounds := envInt(t, "Y360_CONCURRENT_ROUNDS", 5)
	h := newHarness(t, 8, harnessSeed(t))
	rt := h.s3Repo()
	h.initRepo(rt)
	users := h.emails()
	// Overlapping lists: every user is in two or three of them.
	lists := [][]string{users[0:5], users[2:7], append(users[4:8:8], users[0]), {users[6], users[7], users[0], users[1], users[2]}}
	var cfgs []string
	for i := range lists {
		cfgs = append(cfgs, h.config(fmt.Sprintf("w%d", i), rt, concurrentTTL, ""))
	}
	h.addMail(users, []string{"INBOX"}, 6)
	t0 := time.Now()
	var sequential, busySkips, staleRounds, staleUsers int
	var redone int64
	var staleExample string
	var runTime time.Duration
	var spread time.Duration
	for r := 0; r < rounds; r++ {
		h.addMail(users, []string{"INBOX"}, 2)
		var argv [][]string
		for i, l := range lists {
			a := []string{"backup", "-c", cfgs[i], "--json"}
			for _, u := range l {
				a = append(a, "-u", u)
			}
			argv = append(argv, a)
		}
		tr := time.Now()
		procs := h.startTogether(fmt.Sprintf("r%02d", r), argv)
		for _, p := range procs {
			p.wait(t, 3*time.Minute)
		}
		runTime += time.Since(tr)
		rep := h.checkRound(rt, r, procs, lists)
		sequential += rep.sequential
		redone += rep.redone
		busySkips += rep.busy
		spread = max(spread, rep.spread)
		if rep.stale > 0 {
			staleRounds++
			staleUsers += rep.stale
			if staleExample == "" {
				staleExample = rep.staleExample
			}
		}
	}
	h.verify(cfgs[0])
	t.Logf("%d rounds of 4 writers × 5 users (8 users, overlapping) in %s: no lease or user shared; %d busy skips; %d users backed up twice in a round, one after the other (the later writer recorded %d messages again); start spread at most %s; writers ran %s in all",
		rounds, time.Since(t0).Round(time.Millisecond), busySkips, sequential, redone, spread.Round(time.Millisecond), runTime.Round(time.Millisecond))

	if staleRounds > 0 {
		t.Logf("in %d of %d rounds the newest snapshot lacked the newest state of %d user(s) in all, which a concurrent writer had backed up (in its own snapshot): it was written from an older snapshot than the concurrent one; %s",
			staleRounds, rounds, staleUsers, staleExample)
	}
	// One writer alone afterwards: its snapshot is whole again (the stale
	// users are backed up again from the server).
	h.backupOK("solo", cfgs[3])
	h.checkSnapshot(rt, users)

	h.takeover(rt, cfgs[0], cfgs[1], users)
}

// startTogether starts one process per argv behind a barrier: each is a
// shell blocked on reading an inherited pipe, which the test closes once all
// are started, so that they exec the binary at the same instant.
func (h *harness) startTogether(name string, argv [][]string) []*proc {
	h.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		h.t.Fatal(err)
	}
	var procs []*proc
	for i, a := range argv {
		shell := append([]string{"-c", `read _ <&3; exec 3<&-; exec "$0" "$@"`, h.bin}, a...)
		p := h.startCmd(fmt.Sprintf("%s-w%d", name, i), exec.Command("/bin/sh", shell...), r)
		procs = append(procs, p)
	}
	r.Close()
	w.Close() // EOF on every reader: go
	return procs
}

// logLine is the part of a JSON log line the checks read.
type logLine struct {
	Msg    string  `json:"msg"`
	TS     float64 `json:"ts"`
	Lease  string  `json:"lease"`
	Epoch  uint64  `json:"epoch"`
	User   string  `json:"user"`
	Source string  `json:"source"`
	Items  int64   `json:"items"`
}

func tsTime(ts float64) time.Time {
	sec, frac := math.Modf(ts)
	return time.Unix(int64(sec), int64(frac*1e9))
}

// interval is a lease held or a user's source run, by one process.
type interval struct {
	proc     int
	from, to time.Time
	lease    string
	items    int64 // source runs: items recorded
}

func (a interval) overlaps(b interval) bool { return a.from.Before(b.to) && b.from.Before(a.to) }

type roundReport struct {
	sequential, busy, stale int
	redone                  int64 // messages recorded again by a later writer in the same round
	staleExample            string
	spread                  time.Duration
}

// checkRound reads the processes' logs and snapshots of one round.
func (h *harness) checkRound(rt *repoTarget, round int, procs []*proc, lists [][]string) roundReport {
	t := h.t
	t.Helper()
	var rep roundReport
	fulls := make([]*backup.Snapshot, len(procs))
	leases := map[string][]interval{} // lease → holdings
	work := map[string][]interval{}   // user → source runs
	var starts []time.Time
	for i, p := range procs {
		s := p.snapshot(t)
		if p.exit != 0 || s.Status != backup.StatusOK {
			t.Fatalf("round %d writer %d: exit %d, status %s; log tail:\n%s", round, i, p.exit, s.Status, p.logTail())
		}
		held := map[string]*interval{}
		running := map[string]*interval{}
		for _, l := range readLog(t, p.errFile) {
			at := tsTime(l.TS)
			switch l.Msg {
			case "backup starting":
				starts = append(starts, at)
			case "lease acquired":
				held[l.Lease] = &interval{proc: i, from: at, to: p.end, lease: l.Lease}
			case "lease released":
				if iv := held[l.Lease]; iv != nil {
					iv.to = at
					leases[l.Lease] = append(leases[l.Lease], *iv)
					delete(held, l.Lease)
				}
			case "source start":
				running[l.User] = &interval{proc: i, from: at, to: p.end, lease: l.Lease}
			case "source done":
				if iv := running[l.User]; iv != nil {
					iv.to, iv.items = at, l.Items
					work[l.User] = append(work[l.User], *iv)
					delete(running, l.User)
				}
			case "source busy in another writer; skipped":
				rep.busy++
			}
		}
		for _, iv := range held { // never released: counts until the process ended
			leases[iv.lease] = append(leases[iv.lease], *iv)
		}
		for u, iv := range running {
			t.Errorf("round %d writer %d: %s started and never finished", round, i, u)
			work[u] = append(work[u], *iv)
		}
		// The snapshot agrees with the log: backed up exactly the users it
		// logged, carried the others of its list.
		full, err := h.repo(rt).FindSnapshot(context.Background(), s.ID)
		if err != nil {
			t.Fatalf("round %d writer %d: snapshot %s: %v", round, i, s.ID, err)
		}
		fulls[i] = full
		logged := map[string]bool{}
		for u, ivs := range work {
			for _, iv := range ivs {
				if iv.proc == i {
					logged[u] = true
				}
			}
		}
		inList := map[string]bool{}
		for _, u := range lists[i] {
			inList[u] = true
		}
		for _, u := range full.Users {
			ss := u.Sources["mail"]
			backedUp := !u.Carried && ss != nil && !ss.Carried
			switch {
			case backedUp && !logged[u.Email]:
				t.Errorf("round %d writer %d: snapshot lists %s as backed up, but its log has no run of it", round, i, u.Email)
			case !backedUp && logged[u.Email]:
				t.Errorf("round %d writer %d: backed up %s (log) but its snapshot carries it", round, i, u.Email)
			case backedUp && !inList[u.Email]:
				t.Errorf("round %d writer %d: backed up %s, which is not in its list", round, i, u.Email)
			}
		}
	}
	if len(starts) == len(procs) {
		sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
		rep.spread = starts[len(starts)-1].Sub(starts[0])
	}
	// Exclusion: leases, then users.
	for name, ivs := range leases {
		for a := range ivs {
			for b := a + 1; b < len(ivs); b++ {
				if ivs[a].proc != ivs[b].proc && ivs[a].overlaps(ivs[b]) {
					t.Errorf("round %d: lease %s held by writers %d (%s–%s) and %d (%s–%s) at once", round, name,
						ivs[a].proc, ivs[a].from.Format("15:04:05.000"), ivs[a].to.Format("15:04:05.000"),
						ivs[b].proc, ivs[b].from.Format("15:04:05.000"), ivs[b].to.Format("15:04:05.000"))
				}
			}
		}
	}
	for _, u := range h.emails() {
		ivs := work[u]
		if len(ivs) == 0 {
			t.Errorf("round %d: nobody backed up %s", round, u)
		}
		if len(ivs) > 1 {
			rep.sequential++
			sort.Slice(ivs, func(a, b int) bool { return ivs[a].from.Before(ivs[b].from) })
			for _, iv := range ivs[1:] {
				rep.redone += iv.items
			}
		}
		for a := range ivs {
			inLease := false
			for _, l := range leases[ivs[a].lease] {
				inLease = inLease || (l.proc == ivs[a].proc && !l.from.After(ivs[a].from) && !l.to.Before(ivs[a].to))
			}
			if !inLease {
				t.Errorf("round %d: writer %d backed up %s outside its holding of lease %s", round, ivs[a].proc, u, ivs[a].lease)
			}
			for b := a + 1; b < len(ivs); b++ {
				if ivs[a].overlaps(ivs[b]) {
					t.Errorf("round %d: %s backed up by writers %d and %d at the same time", round, u, ivs[a].proc, ivs[b].proc)
				}
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Nothing lost: each user's mail is whole in the snapshot of the writer
	// that backed it up (the highest-ranked entry if there were several).
	r := h.repo(rt)
	for _, u := range h.emails() {
		var best *backup.Snapshot
		var bestRank [2]uint64
		for _, s := range fulls {
			for _, us := range s.Users {
				if ss := us.Sources["mail"]; us.Email == u && !us.Carried && ss != nil && !ss.Carried {
					if rank := [2]uint64{ss.Epoch, ss.Seq}; best == nil || rank[0] > bestRank[0] || (rank[0] == bestRank[0] && rank[1] > bestRank[1]) {
						best, bestRank = s, rank
					}
				}
			}
		}
		if best == nil {
			continue // reported above
		}
		if problems, _ := h.userDiff(r, best, u); len(problems) > 0 {
			t.Errorf("round %d: snapshot %s, which backed up %s, vs Dovecot: %d problem(s):\n  %s", round, best.ID, u, len(problems), strings.Join(problems, "\n  "))
		}
	}
	// The newest snapshot should hold every user's newest state; a writer
	// that carried a user from a snapshot older than a concurrent writer's
	// leaves it stale there (see the report in TestConcurrentWriters).
	newest, err := r.FindSnapshot(context.Background(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range h.emails() {
		if problems, _ := h.userDiff(r, newest, u); len(problems) > 0 {
			rep.stale++
			if rep.staleExample == "" {
				rep.staleExample = fmt.Sprintf("round %d: newest snapshot %s lacks %d message(s) of %s, e.g. %s", round, newest.ID, len(problems), u, problems[0])
			}
		}
	}
	if rep.stale > 0 {
		t.Errorf("%s (%d users stale)", rep.staleExample, rep.stale)
	}
	if t.Failed() {
		t.FailNow()
	}
	return rep
}

// takeover kills a writer while it holds leases and measures how long its
// users wait: another writer must take them over once the TTL has run out
// (not before), and back every one of them up.
func (h *harness) takeover(rt *repoTarget, cfgA, cfgB string, users []string) {
	t := h.t
	t.Helper()
	ctx := context.Background()
	h.addMail(users, []string{"INBOX", "Archive"}, 6) // enough work to be killed in the middle of it
	a := h.startProc("takeover-victim", "backup", "-c", cfgA, "--json")
	deadline := time.Now().Add(time.Minute)
	var held []lease.Info
	for time.Now().Before(deadline) && a.running() {
		infos, err := lease.List(ctx, rt.sink)
		if err != nil {
			t.Fatal(err)
		}
		held = held[:0]
		for _, in := range infos {
			if in.State == lease.Live && in.PID == a.cmd.Process.Pid {
				held = append(held, in)
			}
		}
		if len(held) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(h.rng.Int64N(int64(300 * time.Millisecond))))
	if !a.kill() || len(held) == 0 {
		t.Fatalf("the victim ended before it could be killed holding leases (exit %d); log tail:\n%s", a.exit, a.logTail())
	}
	killed := time.Now()
	// Every lease the dead writer still holds (it may have taken more since
	// the listing above).
	victims := map[string]time.Time{} // lease → when another writer took it
	infos, err := lease.List(ctx, rt.sink)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.State == lease.Live && in.PID == a.cmd.Process.Pid {
			victims[in.Name] = time.Time{}
		}
	}
	// Another writer runs again and again; while the dead writer's leases
	// are live it must leave those users alone.
	var takenAt, allAt time.Time
	runs := 0
	for taken := 0; taken < len(victims); {
		if time.Since(killed) > 4*concurrentTTL {
			t.Fatalf("%d of the killed writer's %d leases were not taken over within %s", len(victims)-taken, len(victims), 4*concurrentTTL)
		}
		runs++
		b := h.startProc(fmt.Sprintf("takeover-%02d", runs), "backup", "-c", cfgB, "--json")
		b.wait(t, 3*time.Minute)
		if s := b.snapshot(t); b.exit != 0 || s.Status != backup.StatusOK {
			t.Fatalf("successor run: exit %d, status %s; log tail:\n%s", b.exit, s.Status, b.logTail())
		}
		for _, l := range readLog(t, b.errFile) {
			if at, ok := victims[l.Lease]; l.Msg == "lease acquired" && ok && at.IsZero() {
				at = tsTime(l.TS)
				victims[l.Lease] = at
				taken++
				if takenAt.IsZero() || at.Before(takenAt) {
					takenAt = at
				}
				if at.After(allAt) {
					allAt = at
				}
			}
		}
	}
	wait := takenAt.Sub(killed)
	t.Logf("takeover: writer killed holding %d lease(s); another writer took the first over %s after the kill, the last %s after (TTL %s, %d successor runs)",
		len(victims), wait.Round(time.Millisecond), allAt.Sub(killed).Round(time.Millisecond), concurrentTTL, runs)
	// The dead holder's last heartbeat is at most TTL/5 before the kill,
	// and the store's clock counts whole seconds.
	if early := concurrentTTL - concurrentTTL/5 - 1500*time.Millisecond; wait < early {
		t.Errorf("leases taken over %s after the kill: before the TTL (%s) could have run out", wait, concurrentTTL)
	}
	if last := allAt.Sub(killed); last > concurrentTTL+5*time.Second {
		t.Errorf("leases taken over up to %s after the kill, want within the TTL (%s) plus a successor run", last, concurrentTTL)
	}
	h.checkSnapshot(rt, users)
	h.verify(cfgB)
}

func readLog(t *testing.T, file string) []logLine {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	for _, line := range strings.Split(string(b), "\n") {
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}
