package lease

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// raceRounds runs rounds in which workers goroutines, released at the same
// instant, each try to acquire every name (in their own random order). Every
// name must have exactly one winner per round, with an epoch above the
// previous round's. Winners hold until the round is over, then release.
func raceRounds(t *testing.T, s sinks.Sink, names []string, workers, rounds int, o Options) {
	ctx := context.Background()
	last := map[string]uint64{}
	for r := range rounds {
		start := make(chan struct{})
		var (
			mu  sync.Mutex
			won = map[string][]*Lease{}
			wg  sync.WaitGroup
		)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := o
				o.Owner = fmt.Sprintf("r%d-w%d", r, w)
				order := rand.Perm(len(names))
				<-start
				for _, i := range order {
					l, err := Acquire(ctx, s, names[i], o)
					if err != nil {
						if !errors.Is(err, ErrHeld) {
							t.Errorf("round %d worker %d: %v", r, w, err)
						}
						continue
					}
					mu.Lock()
					won[names[i]] = append(won[names[i]], l)
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		for _, name := range names {
			ls := won[name]
			for _, l := range ls {
				mustRelease(t, l)
			}
			if len(ls) != 1 {
				t.Fatalf("round %d, %s: %d winners, want 1", r, name, len(ls))
			}
			if ls[0].Epoch() <= last[name] {
				t.Fatalf("round %d, %s: epoch %d, not above the previous round's %d", r, name, ls[0].Epoch(), last[name])
			}
			last[name] = ls[0].Epoch()
		}
	}
}

func TestContentionOneName(t *testing.T) {
	t.Parallel() // long TTLs: load cannot change the outcome, only the time
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		raceRounds(t, s, []string{"u/1/mail"}, 8, 50, slowOpts(""))
	})
}

func TestContentionManyNames(t *testing.T) {
	t.Parallel() // long TTLs: load cannot change the outcome, only the time
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		raceRounds(t, s, []string{"u/1/mail", "u/1/disk", "u/2/mail", "u/2/calendar"}, 8, 50, slowOpts(""))
	})
}

// Exclusive and normal acquirers start together, each after a random delay
// of up to 3 ms so that both kinds sometimes win: never may both hold.
func TestExclusiveVsNormalRace(t *testing.T) {
	t.Parallel() // long TTLs: load cannot change the outcome, only the time
	forEachSink(t, func(t *testing.T, s sinks.Sink) {
		const rounds = 60
		var xRounds, nRounds int
		for r := range rounds {
			x, n := exclusiveRound(t, s, r, []string{"u/1/mail", "u/2/mail", "u/3/mail"})
			if x > 0 {
				xRounds++
			}
			if n > 0 {
				nRounds++
			}
		}
		t.Logf("rounds won by the exclusive lock: %d, by normal leases: %d, by none: %d", xRounds, nRounds, rounds-xRounds-nRounds)
		if xRounds == 0 || nRounds == 0 {
			t.Errorf("one kind never won (exclusive %d, normal %d rounds): the race did not exercise both", xRounds, nRounds)
		}
	})
}

// exclusiveRound races two AcquireExclusive against six Acquire (two per
// name), checks the outcome, releases the winners and counts them.
func exclusiveRound(t *testing.T, s sinks.Sink, r int, names []string) (exclusive, normal int) {
	var (
		mu   sync.Mutex
		xWon []*Lease
		nWon = map[string][]*Lease{}
		wg   sync.WaitGroup
	)
	start := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			o := slowOpts(fmt.Sprintf("r%d-w%d", r, w))
			delay := rand.N(3 * time.Millisecond)
			<-start
			time.Sleep(delay)
			var l *Lease
			var err error
			if w < 2 {
				l, err = AcquireExclusive(context.Background(), s, o)
			} else {
				l, err = Acquire(context.Background(), s, names[w%len(names)], o)
			}
			if err != nil {
				if !errors.Is(err, ErrHeld) {
					t.Errorf("round %d worker %d: %v", r, w, err)
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if w < 2 {
				xWon = append(xWon, l)
			} else {
				nWon[l.Name()] = append(nWon[l.Name()], l)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, l := range xWon {
		mustRelease(t, l)
	}
	for _, name := range names {
		normal += len(nWon[name])
		if len(nWon[name]) > 1 {
			t.Errorf("round %d: %s has %d holders", r, name, len(nWon[name]))
		}
		for _, l := range nWon[name] {
			mustRelease(t, l)
		}
	}
	if len(xWon) > 1 || len(xWon) == 1 && normal > 0 {
		t.Fatalf("round %d: %d exclusive and %d normal holders at once", r, len(xWon), normal)
	}
	return len(xWon), normal
}
