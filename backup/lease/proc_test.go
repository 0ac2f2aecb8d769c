package lease

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/fs"
)

// envChild carries a childCfg as JSON: the test binary, started again with
// it, runs child() instead of the tests.
const envChild = "Y360_LEASE_TEST_CHILD"

type childCfg struct {
	Mode    string // "race", "hold" or "take"
	Dir     string // fs sink root
	Barrier string // directory of round barrier files ("race")
	ID      int
	Procs   int
	Rounds  int
	Names   []string
	Start   int64         // unix nanoseconds of round 0 ("race")
	Period  time.Duration // between round starts ("race")
	TTL     time.Duration
	Refresh time.Duration
}

func TestMain(m *testing.M) {
	if v := os.Getenv(envChild); v != "" {
		var c childCfg
		err := json.Unmarshal([]byte(v), &c)
		if err == nil {
			err = child(c)
		}
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(c childCfg) error {
	s, err := fs.Open(fs.Config{Path: c.Dir})
	if err != nil {
		return err
	}
	o := Options{TTL: c.TTL, Refresh: c.Refresh, Owner: fmt.Sprintf("proc%d", c.ID)}
	switch c.Mode {
	case "race":
		return childRace(c, s, o)
	case "hold":
		l, err := Acquire(context.Background(), s, c.Names[0], o)
		if err != nil {
			return err
		}
		fmt.Println("HELD", l.Epoch())
		<-l.Lost() // until killed; losing would be a failure
		return l.Err()
	case "take":
		return childTake(c, s, o)
	}
	return fmt.Errorf("unknown mode %q", c.Mode)
}

// childRace: in every round, at the round's start instant, try all names at
// once; print the wins; hold them until every process has tried; release.
func childRace(c childCfg, s sinks.Sink, o Options) error {
	ctx := context.Background()
	for r := range c.Rounds {
		time.Sleep(time.Until(time.Unix(0, c.Start).Add(time.Duration(r) * c.Period)))
		wins := make([]*Lease, len(c.Names))
		errs := make([]error, len(c.Names))
		var wg sync.WaitGroup
		for i, name := range c.Names {
			wg.Go(func() {
				l, err := Acquire(ctx, s, name, o)
				if err == nil {
					wins[i] = l
				} else if !errors.Is(err, ErrHeld) {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("round %d: %w", r, err)
		}
		for i, l := range wins {
			if l != nil {
				fmt.Println("WIN", r, c.Names[i], l.Epoch())
			}
		}
		if err := barrier(c, fmt.Sprintf("tried-%d", r)); err != nil {
			return err
		}
		for _, l := range wins {
			if l != nil {
				if err := l.Release(ctx); err != nil {
					return err
				}
			}
		}
		if err := barrier(c, fmt.Sprintf("released-%d", r)); err != nil {
			return err
		}
	}
	return nil
}

// barrier records that this process reached stage and waits for the others.
func barrier(c childCfg, stage string) error {
	if err := os.WriteFile(filepath.Join(c.Barrier, fmt.Sprintf("%s.%d", stage, c.ID)), nil, 0o644); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		n := 0
		for id := range c.Procs {
			if _, err := os.Stat(filepath.Join(c.Barrier, fmt.Sprintf("%s.%d", stage, id))); err == nil {
				n++
			}
		}
		if n == c.Procs {
			return nil
		}
	}
	return fmt.Errorf("barrier %s: timed out", stage)
}

// childTake polls until it takes the lease and prints when.
func childTake(c childCfg, s sinks.Sink, o Options) error {
	waiting := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		l, err := Acquire(context.Background(), s, c.Names[0], o)
		if errors.Is(err, ErrHeld) {
			if !waiting {
				fmt.Println("WAITING")
				waiting = true
			}
			continue
		}
		if err != nil {
			return err
		}
		fmt.Println("TOOK", l.Epoch(), time.Now().UnixNano())
		return l.Release(context.Background())
	}
	return errors.New("never took the lease")
}

// proc is a running child; its stdout lines arrive on lines.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr syncBuffer
	done   chan error // the exit status, after lines is closed
}

// syncBuffer lets a test read a child's stderr while it is being written.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startChild(t *testing.T, c childCfg) *proc {
	t.Helper()
	cfg, _ := json.Marshal(c)
	p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^$"), lines: make(chan string, 1000), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), envChild+"="+string(cfg))
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

// expect returns the next line, failing the test unless it starts with want.
func (p *proc) expect(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok || len(line) < len(want) || line[:len(want)] != want {
			t.Fatalf("child %d: got %q (closed: %v), want %q...; stderr: %s", p.cmd.Process.Pid, line, !ok, want, p.stderr.String())
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("child %d: no %q within %s", p.cmd.Process.Pid, want, timeout)
	}
	return ""
}
