package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/y360backup/y360backup/backup/lease"
)

// The kill -9 harness (docs/repository.md "Why a kill -9 at any instant
// loses nothing"): the real binary backs up a corpus on a real Dovecot and
// is SIGKILLed at random instants, episode after episode, with new mail,
// deletions and flag changes between episodes. Each episode ends with a run
// to completion, after which the newest snapshot must hold every message of
// the server exactly once with the same bytes; at the end `verify` must
// pass. The duplicate bytes (blob copies beyond the first, from the packs
// themselves) are reported.
//
// Kill instants: half are uniform in [0, D], D the duration of an
// uninterrupted run of the same work; the others wait for an event in the
// repository, in turn: the n-th new pack, a new index file, a new
// checkpoint, a new snapshot (killing 0-3 ms after it), or (fs) a pack's
// temporary file being written, so the short windows between the final
// flush, the checkpoints and the snapshot are hit too. Each kill is
// classified by what the killed run left behind.
//
// A killed writer's leases stay live for the lease TTL; as the operator
// would (y360backup unlock), the harness breaks them after each kill, since
// it knows the process is dead. Takeover by expiry is the concurrency
// harness's part.
//
//	Y360_CRASH_KILLS   kills against Dovecot + fs (default 50); the S3 test
//	                   does a fifth of it (at least 10)
//	Y360_CRASH_SEED    replay a schedule (the seed is logged)

func TestCrashKill9FS(t *testing.T) {
	t.Parallel() // with the S3 one: they share only Dovecot
	kills := envInt(t, "Y360_CRASH_KILLS", 50)
	h := newHarness(t, 3, harnessSeed(t))
	runCrash(t, h, h.fsRepo("repo"), kills, true)
}

func TestCrashKill9S3(t *testing.T) {
	t.Parallel()
	kills := max(10, envInt(t, "Y360_CRASH_KILLS", 50)/5)
	h := newHarness(t, 2, harnessSeed(t))
	runCrash(t, h, h.s3Repo(), kills, false)
}

// killMode says how one kill's instant is chosen.
type killMode int

const (
	killUniform killMode = iota
	killAfterPack
	killAfterIndex
	killAfterCheckpoint
	killAfterSnapshot
	killMidPack // fs: while a pack's temporary file is being written (S3: after n-th pack)
	killModes
)

var killModeNames = []string{"uniform", "after n-th pack", "after index file", "after checkpoint", "after snapshot", "during a pack write"}

// repoCounts is a cheap listing of what a run adds.
type repoCounts struct {
	packs, index, ckpts, snaps int
	tmp                        map[string]int64 // fs: temporary files of Puts in progress, by name
}

func (h *harness) counts(rt *repoTarget) repoCounts {
	c := repoCounts{
		packs: countPrefix(h.t, rt.sink, "data/"), index: countPrefix(h.t, rt.sink, "index/"),
		ckpts: countPrefix(h.t, rt.sink, "checkpoints/"), snaps: countPrefix(h.t, rt.sink, "snapshots/"),
	}
	if rt.fs != "" {
		ents, _ := os.ReadDir(filepath.Join(rt.fs, ".tmp"))
		c.tmp = map[string]int64{}
		for _, e := range ents {
			if fi, err := e.Info(); err == nil {
				c.tmp[e.Name()] = fi.Size()
			}
		}
	}
	return c
}

// phase names what a killed run had written by the time it died.
func phase(before, after repoCounts) string {
	switch {
	case after.snaps > before.snaps:
		return "snapshot written (killed in cleanup or release)"
	case after.ckpts > before.ckpts:
		return "checkpoint written, no snapshot"
	case after.index > before.index:
		return "index file written, no checkpoint"
	case after.packs > before.packs:
		return "packs uploaded, no index file"
	}
	return "nothing written yet (start, listing, fetch)"
}

type crashStats struct {
	kills, runs, episodes, completions, midPut int
	midPack                                    int
	phases                                     map[string]int
	modes                                      map[killMode]int
	brokenLeases                               int
	checkedMsgs                                int
	checkTime, killTime                        time.Duration
}

func runCrash(t *testing.T, h *harness, rt *repoTarget, wantKills int, bigBody bool) {
	t0 := time.Now()
	h.initRepo(rt)
	cfg := h.config("writer", rt, 0, "")
	users := h.emails()
	folders := []string{"INBOX", "Archive"}
	seeded := h.addMail(users, folders, 30)
	tSeed := time.Since(t0)
	if bigBody { // one body above the chunking threshold: chunks and a chunk list
		m := h.message(users[0], 9<<19) // 4.5 MiB
		h.appendMsgs(users[0], "INBOX", [][]byte{m})
		seeded += int64(len(m))
	}
	// D: an uninterrupted run of the same work, into a scratch repository
	// of the same kind.
	scratch := h.fsRepo("scratch")
	if rt.fs == "" {
		scratch = h.s3Repo()
	}
	h.initRepo(scratch)
	_, d := h.backupOK("calibrate", h.config("calibrate", scratch, 0, ""))
	t.Logf("corpus: %d users × %d folders, %.1f MB; uninterrupted run %s (seeding %s, setup %s)", len(users), len(folders), float64(seeded)/1e6, d.Round(time.Millisecond), tSeed.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))

	st := crashStats{phases: map[string]int{}, modes: map[killMode]int{}}
	const perEpisode = 12
	epKills := 0
	for st.kills < wantKills {
		// Every other kill waits for an event, the events in turn.
		mode := killUniform
		if st.runs%2 == 1 {
			mode = killMode(1 + (st.runs/2)%int(killModes-1))
		}
		// A claim the dead writer sent just before the kill may land late.
		st.brokenLeases += h.breakLeases(rt)
		before := h.counts(rt)
		name := fmt.Sprintf("run%03d", st.runs)
		st.runs++
		args := []string{"backup", "-c", cfg, "--json"}
		if epKills >= perEpisode {
			// Enough kills on this work: let a run complete.
			mode = -1
		}
		tk := time.Now()
		p := h.startProc(name, args...)
		if mode >= 0 {
			h.waitForKill(p, rt, mode, before, d)
		}
		if mode >= 0 && p.kill() {
			st.kills++
			epKills++
			st.modes[mode]++
			after := h.counts(rt)
			st.phases[phase(before, after)]++
			for name, size := range after.tmp {
				if _, old := before.tmp[name]; !old {
					st.midPut++ // killed while a Put was writing its temporary file
					if size >= 64<<10 {
						st.midPack++ // only packs are that large
					}
					break
				}
			}
			st.brokenLeases += h.breakLeases(rt)
			st.killTime += time.Since(tk)
			continue
		}
		// The run completed: the episode's work is backed up.
		p.wait(t, 3*time.Minute)
		s := p.snapshot(t)
		if p.exit != 0 || s.Status != "ok" {
			t.Fatalf("%s: exit %d, status %s; log tail:\n%s", name, p.exit, s.Status, p.logTail())
		}
		if s.Totals.Items > 0 { // D: a run with an episode's work, not a no-change run
			d = p.end.Sub(p.start)
		}
		st.completions++
		tc := time.Now()
		st.checkedMsgs = h.checkSnapshot(rt, users)
		st.checkTime += time.Since(tc)
		st.episodes++
		epKills = 0
		// New work for the next episode: mail in every folder, a few
		// deletions and flag changes.
		h.addMail(users, folders, 6)
		h.churn(users[h.rng.IntN(len(users))], "INBOX", 2)
	}
	// The last episode ends with a run to completion too.
	s, last := h.backupOK("final", cfg)
	st.episodes++
	st.checkedMsgs = h.checkSnapshot(rt, users)
	h.verify(cfg)
	c := census(t, rt.sink)
	if c.Checkpoints != 0 {
		t.Errorf("%d checkpoint objects left after a completed run: its snapshot supersedes them all", c.Checkpoints)
	}
	if n := h.breakLeases(rt); n != 0 {
		t.Errorf("%d leases still live after the final run exited", n)
	}

	t.Logf("%d kills in %d episodes (%d runs, %d of which completed; %d live leases broken after kills)",
		st.kills, st.episodes, st.runs+1, st.completions+1, st.brokenLeases)
	if rt.fs != "" {
		t.Logf("%d kills in the middle of an object write (its temporary file left), %d of them during a pack upload", st.midPut, st.midPack)
	}
	t.Logf("kill instants: %s", fmtCounts(st.modes, func(m killMode) string { return killModeNames[m] }))
	t.Logf("killed runs had written: %s", fmtCounts(st.phases, func(s string) string { return s }))
	t.Logf("final run: %s, %d new items; newest snapshot holds all %d messages exactly once; verify clean", last.Round(time.Millisecond), s.Totals.Items, st.checkedMsgs)
	t.Logf("repository: %s", c)
	t.Logf("bytes uploaded more than once across all kills: %s (%.1f %% of %s distinct); unindexed packs: %s",
		humanBytes(c.DupBytes), 100*float64(c.DupBytes)/float64(max(1, c.UniqueBytes)), humanBytes(c.UniqueBytes), humanBytes(c.Unindexed))
	t.Logf("harness took %s (killed runs %s, checks after episodes %s)", time.Since(t0).Round(time.Millisecond),
		st.killTime.Round(time.Millisecond), st.checkTime.Round(time.Millisecond))
}

// waitForKill returns when p should be killed: after a uniform delay in
// [0, d], or 0-3 ms after the event mode waits for (or when p exits).
func (h *harness) waitForKill(p *proc, rt *repoTarget, mode killMode, before repoCounts, d time.Duration) {
	if mode == killUniform {
		select {
		case <-time.After(time.Duration(h.rng.Int64N(int64(d) + 1))):
		case <-p.done:
		}
		return
	}
	nth := 1 + h.rng.IntN(2)
	jitter := time.Duration(h.rng.Int64N(int64(3 * time.Millisecond)))
	if mode == killMidPack && rt.fs == "" {
		mode = killAfterPack // an S3 PUT in flight cannot be seen from here
	}
	for p.running() {
		var hit bool
		switch mode {
		case killMidPack:
			ents, _ := os.ReadDir(filepath.Join(rt.fs, ".tmp"))
			for _, e := range ents {
				if _, old := before.tmp[e.Name()]; !old {
					if fi, err := e.Info(); err == nil && fi.Size() >= 64<<10 {
						return // no jitter: the write is under way now
					}
				}
			}
		case killAfterPack:
			hit = countPrefix(h.t, rt.sink, "data/") >= before.packs+nth
		case killAfterIndex:
			hit = countPrefix(h.t, rt.sink, "index/") > before.index
		case killAfterCheckpoint:
			hit = countPrefix(h.t, rt.sink, "checkpoints/") > before.ckpts
		case killAfterSnapshot:
			hit = countPrefix(h.t, rt.sink, "snapshots/") > before.snaps
		}
		if hit {
			time.Sleep(jitter)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// breakLeases releases every live lease: the only writer is dead. It
// returns how many it broke.
func (h *harness) breakLeases(rt *repoTarget) int {
	ctx := context.Background()
	infos, err := lease.List(ctx, rt.sink)
	if err != nil {
		h.t.Fatalf("list leases: %v", err)
	}
	n := 0
	for _, in := range infos {
		if in.State != lease.Live {
			continue
		}
		if _, err := lease.Break(ctx, rt.sink, in.Name); err != nil {
			h.t.Fatalf("break lease %s of the killed writer: %v", in.Name, err)
		}
		n++
	}
	return n
}

func fmtCounts[K comparable](m map[K]int, name func(K) string) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%d %s", n, name(k)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
