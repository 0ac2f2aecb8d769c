package main

// Shared machinery of the crash and concurrency harnesses (crash_test.go,
// concurrent_test.go, cacherebuild_test.go): an organization of the
// in-process emulator whose tokens the real Dovecot accepts (both share
// Y360_TEST_EMU_KEY), repositories on a folder or on versitygw, and child
// processes of the real binary. The corpus and the checks against Dovecot
// are in corpus_test.go, the walk of a repository's objects in
// repowalk_test.go.
//
//	Y360_CRASH_SEED=N     replay a run's random choices (each test logs its seed)
//	Y360_HARNESS_KEEP=1   keep repositories, configs and child logs in $TMPDIR
//	Y360_KNOWN_BUGS=1     also fail on known, unfixed bugs (see the report logs)

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/testpeer"
	"github.com/y360backup/y360backup/internal/y360emu"
	"github.com/y360backup/y360backup/sinks"
	fssink "github.com/y360backup/y360backup/sinks/fs"
)

// TestMain removes the binary buildBinary (e2e_test.go) built, which every
// run of this package's tests used to leave in $TMPDIR (38 MB each).
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary != "" {
		os.RemoveAll(filepath.Dir(builtBinary))
	}
	os.Exit(code)
}

// buildMu serialises buildBinary (e2e_test.go), which is not safe for the
// harness tests that run in parallel.
var buildMu sync.Mutex

func harnessBinary(t *testing.T) string {
	buildMu.Lock()
	defer buildMu.Unlock()
	return buildBinary(t)
}

// envInt reads a positive integer knob (Y360_CRASH_KILLS...), def if unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// harnessSeed is Y360_CRASH_SEED, or a fresh seed; either way it is logged,
// so a failing schedule can be replayed.
func harnessSeed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv("Y360_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("Y360_CRASH_SEED=%q: %v", v, err)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

type harness struct {
	t     *testing.T
	bin   string
	emu   *y360emu.Server
	addr  string // Dovecot (plain IMAP)
	users []y360emu.User
	dir   string
	rng   *rand.Rand
	seq   int                // messages appended so far (unique Message-Ids)
	seen  map[string]mailbox // bodies hashed so far, by user
	dirty map[string]bool    // users whose mail changed since seen
	repos map[sinks.Sink]*backup.Repository
	conns map[string]*imapclient.Client
}

// newHarness starts an organization of n users with fresh mailboxes.
func newHarness(t *testing.T, n int, seed uint64) *harness {
	t.Helper()
	addr := testpeer.Env(t, "Y360_TEST_DOVECOT_ADDR")
	testpeer.Env(t, y360emu.EnvKey)
	suffix := randSuffix()
	opts := y360emu.DefaultOrg()
	opts.Users = nil
	for i := 0; i < n; i++ {
		opts.Users = append(opts.Users, y360emu.User{ID: fmt.Sprintf("113%013d", 7000000+i),
			Email: fmt.Sprintf("h%d-%s@harness.test", i, suffix)})
	}
	emu := y360emu.New(opts)
	emu.Start()
	t.Cleanup(emu.Close)
	t.Logf("seed %d (replay with Y360_CRASH_SEED=%d)", seed, seed)
	dir := t.TempDir()
	if os.Getenv("Y360_HARNESS_KEEP") == "1" { // keep repositories, configs and logs for a post-mortem
		var err error
		if dir, err = os.MkdirTemp("", "y360harness-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("Y360_HARNESS_KEEP=1: keeping %s", dir)
	}
	return &harness{t: t, bin: harnessBinary(t), emu: emu, addr: addr, users: opts.Users, dir: dir,
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (h *harness) emails() []string {
	out := make([]string, len(h.users))
	for i, u := range h.users {
		out[i] = u.Email
	}
	return out
}

// ---- repositories ----------------------------------------------------------

// repoTarget is a repository location as the config and the test see it.
type repoTarget struct {
	yaml string // the config's repository section, indented two spaces
	sink sinks.Sink
	fs   string // the folder, for an fs repository
}

func (h *harness) fsRepo(name string) *repoTarget {
	dir := filepath.Join(h.dir, name)
	c := fssink.NewConfig()
	c.Path = dir
	s, err := fssink.Open(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return &repoTarget{yaml: "  path: " + dir + "\n", sink: s, fs: dir}
}

// s3Repo makes a fresh bucket on versitygw (removed at cleanup).
func (h *harness) s3Repo() *repoTarget {
	s, bucket := testS3Sink(h.t)
	return &repoTarget{sink: s, yaml: fmt.Sprintf(`  type: s3
  s3:
    bucket: %s
    prefix: repo
    region: us-east-1
    endpoint: %s
    path_style: true
    access_key: %s
    secret_key: %s
`, bucket, os.Getenv("Y360_TEST_S3_ENDPOINT"), os.Getenv("Y360_TEST_S3_ACCESS_KEY"), os.Getenv("Y360_TEST_S3_SECRET_KEY"))}
}

// initRepo creates the repository with the smallest pack size (1 MiB), so a
// corpus of a few MB fills several packs and kills land between uploads.
func (h *harness) initRepo(rt *repoTarget) {
	r, err := backup.Init(context.Background(), rt.sink, backup.RepoOptions{PackSize: 1 << 20, SpoolDir: h.t.TempDir()})
	if err != nil {
		h.t.Fatalf("init repository: %v", err)
	}
	r.Close()
}

// openRepo opens the repository through the API with a private index cache.
func (h *harness) openRepo(rt *repoTarget) *backup.Repository {
	h.t.Helper()
	r, err := backup.Open(context.Background(), rt.sink, backup.RepoOptions{SpoolDir: h.t.TempDir()})
	if err != nil {
		h.t.Fatalf("open repository: %v", err)
	}
	h.t.Cleanup(func() { r.Close() })
	return r
}

// repo is openRepo once per repository: kept open, its index cache syncs
// with new index files on a lookup miss.
func (h *harness) repo(rt *repoTarget) *backup.Repository {
	if h.repos == nil {
		h.repos = map[sinks.Sink]*backup.Repository{}
	}
	r := h.repos[rt.sink]
	if r == nil {
		r = h.openRepo(rt)
		h.repos[rt.sink] = r
	}
	return r
}

// config writes a config for one writer; cacheDir "" gives it its own.
func (h *harness) config(name string, rt *repoTarget, leaseTTL time.Duration, cacheDir string) string {
	h.t.Helper()
	if cacheDir == "" {
		cacheDir = filepath.Join(h.dir, "cache-"+name)
	}
	spool := filepath.Join(h.dir, "spool-"+name)
	if err := os.MkdirAll(spool, 0o700); err != nil {
		h.t.Fatal(err)
	}
	ttl := ""
	if leaseTTL > 0 {
		ttl = "  lease_ttl: " + leaseTTL.String() + "\n"
	}
	cfg := fmt.Sprintf(`organization:
  id: %q
  admin_token: %s
  client_id: %s
  client_secret: %s
api:
  directory_url: %s
  oauth_url: %s
  rps: 1000
concurrency: 2
sources:
  mail:
    addr: %s
    security: plain
  calendar: {enabled: false}
  disk: {enabled: false}
repository:
%s%s
spool_dir: %s
cache_dir: %s
log:
  format: json
  level: debug
`, h.emu.OrgID(), y360emu.DemoAdminToken, y360emu.DemoClientID, y360emu.DemoClientSecret, h.emu.URL(), h.emu.OAuthURL(),
		h.addr, rt.yaml, ttl, spool, cacheDir)
	p := filepath.Join(h.dir, name+".yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// ---- child processes -------------------------------------------------------

type proc struct {
	cmd     *exec.Cmd
	stdout  bytes.Buffer
	errFile string
	start   time.Time
	end     time.Time
	exit    int // -1: killed by a signal
	done    chan struct{}
}

// startProc starts the binary; its stderr (JSON logs) goes to a file.
func (h *harness) startProc(name string, args ...string) *proc {
	h.t.Helper()
	return h.startCmd(name, exec.Command(h.bin, args...), nil)
}

// startCmd starts cmd, giving it extra as fd 3 when not nil.
func (h *harness) startCmd(name string, cmd *exec.Cmd, extra *os.File) *proc {
	h.t.Helper()
	p := &proc{cmd: cmd, errFile: filepath.Join(h.dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.errFile)
	if err != nil {
		h.t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, f
	if extra != nil {
		p.cmd.ExtraFiles = []*os.File{extra}
	}
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		h.t.Fatalf("start %s: %v", cmd.Path, err)
	}
	h.t.Cleanup(func() { // a test that failed half way leaves no writer behind
		if p.running() {
			p.kill()
		}
	})
	go func() {
		p.cmd.Wait()
		p.end = time.Now()
		f.Close()
		p.exit = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and reports whether the process was still running
// (a kill that came after the exit is no kill).
func (p *proc) kill() bool {
	if !p.running() {
		return false
	}
	killed := p.cmd.Process.Signal(syscall.SIGKILL) == nil
	<-p.done
	ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return killed && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func (p *proc) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		t.Fatalf("%s did not finish within %s; log tail:\n%s", p.cmd.Args, limit, p.logTail())
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.errFile)
	return tail(string(b))
}

// snapshot decodes the --json output of a finished backup.
func (p *proc) snapshot(t *testing.T) *backup.Snapshot {
	t.Helper()
	var s backup.Snapshot
	if err := json.Unmarshal(p.stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v exited %d without a snapshot (%v); log tail:\n%s", p.cmd.Args[1:], p.exit, err, p.logTail())
	}
	return &s
}

// backupOK runs one backup to completion and requires status ok.
func (h *harness) backupOK(name, cfg string, args ...string) (*backup.Snapshot, time.Duration) {
	h.t.Helper()
	p := h.startProc(name, append([]string{"backup", "-c", cfg, "--json"}, args...)...)
	p.wait(h.t, 3*time.Minute)
	s := p.snapshot(h.t)
	if p.exit != 0 || s.Status != backup.StatusOK {
		h.t.Fatalf("backup exit %d, status %s (%d users failed); log tail:\n%s", p.exit, s.Status, s.UsersFailed, p.logTail())
	}
	return s, p.end.Sub(p.start)
}

// verify runs `y360backup verify` and requires exit 0.
func (h *harness) verify(cfg string) {
	h.t.Helper()
	out, err := exec.Command(h.bin, "verify", "-c", cfg).CombinedOutput()
	if err != nil {
		h.t.Fatalf("verify: %v\n%s", err, tail(string(out)))
	}
}
