package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/y360backup/y360backup/internal/testpeer"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/internal/y360emu"
)

// End-to-end tests of the built binary against a real Dovecot (started by
// scripts/peers-up.sh) and the in-process Yandex emulator: the org's users,
// the token exchange, XOAUTH2 through Dovecot's oauth2 passdb (which asks the
// standalone emulator, sharing Y360_TEST_EMU_KEY), the repository on disk.

func requireEnv(t *testing.T, name string) string { t.Helper(); return testpeer.Env(t, name) }

// buildBinary compiles y360backup once per test binary run.
var builtBinary string

func buildBinary(t *testing.T) string {
	t.Helper()
	if builtBinary != "" {
		return builtBinary
	}
	dir, err := os.MkdirTemp("", "y360backup-e2e-bin")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "y360backup")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	builtBinary = bin
	return bin
}

func randSuffix() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type e2eEnv struct {
	emu   *y360emu.Server
	addr  string
	delim string
	dir   string
	cfg   string
	users []y360emu.User
}

func newE2E(t *testing.T, addrVar, delim string, nUsers int) *e2eEnv {
	addr := requireEnv(t, addrVar)
	requireEnv(t, y360emu.EnvKey)
	suffix := randSuffix()
	opts := y360emu.DefaultOrg()
	opts.Users = nil
	for i := 0; i < nUsers; i++ {
		opts.Users = append(opts.Users, y360emu.User{ID: fmt.Sprintf("113000000%07d", i+1), Email: fmt.Sprintf("e2e%d-%s@e2e.test", i, suffix)})
	}
	emu := y360emu.New(opts)
	emu.Start()
	t.Cleanup(emu.Close)
	e := &e2eEnv{emu: emu, addr: addr, delim: delim, dir: t.TempDir(), users: opts.Users}
	security, caLine := "plain", ""
	if ca := os.Getenv("Y360_TEST_DOVECOT_CA"); ca != "" {
		security, caLine = "starttls", "    ca_file: "+ca+"\n"
	}
	cfg := fmt.Sprintf(`organization:
  id: %q
  admin_token: %s
  client_id: %s
  client_secret_file: %s
api:
  directory_url: %s
  oauth_url: %s
  rps: 1000
sources:
  mail:
    addr: %s
    security: %s
%s  calendar: {enabled: false}
  disk: {enabled: false}
repository:
  path: %s
  checkpoint_interval: 100ms
  lease_ttl: 3s
log:
  format: json
  level: debug
`, emu.OrgID(), y360emu.DemoAdminToken, y360emu.DemoClientID, secretFile(t, y360emu.DemoClientSecret),
		emu.URL(), emu.OAuthURL(), addr, security, caLine, filepath.Join(e.dir, "repo"))
	e.cfg = filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func secretFile(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(p, []byte(s+"\n"), 0o600)
	return p
}

// seed appends n messages of about size bytes to each folder of email.
func (e *e2eEnv) seed(t *testing.T, email string, folders []string, n, size int) int64 {
	t.Helper()
	c, err := imapclient.DialInsecure(e.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(email, e.emu.MintToken(email)).Wait(); err != nil {
		t.Fatalf("seed login %s: %v", email, err)
	}
	var total int64
	for _, f := range folders {
		name := strings.ReplaceAll(f, "/", e.delim)
		if f != "INBOX" {
			c.Create(name, nil).Wait() // may exist
		}
		for i := 0; i < n; i++ {
			body := fmt.Sprintf("From: seed@e2e.test\r\nTo: %s\r\nSubject: %s %d\r\nMessage-Id: <%s.%d.%s@e2e.test>\r\n\r\n%s\r\n",
				email, f, i, randSuffix(), i, strings.ReplaceAll(f, "/", "."), strings.Repeat(fmt.Sprintf("line %d of %s\r\n", i, f), size/20))
			cmd := c.Append(name, int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
			cmd.Write([]byte(body))
			cmd.Close()
			if _, err := cmd.Wait(); err != nil {
				t.Fatalf("append to %s: %v", name, err)
			}
			total += int64(len(body))
		}
	}
	return total
}

// backup runs the binary and returns the snapshot it printed.
func (e *e2eEnv) backup(t *testing.T, args ...string) (*backup.Snapshot, string) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"backup", "-c", e.cfg, "--json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var snap backup.Snapshot
	if jerr := json.Unmarshal(stdout.Bytes(), &snap); jerr != nil {
		t.Fatalf("backup: %v; output not a snapshot: %v\nstdout:\n%s\nstderr:\n%s", err, jerr, stdout.String(), tail(stderr.String()))
	}
	if err != nil && snap.Status == backup.StatusOK {
		t.Fatalf("exit %v with status ok", err)
	}
	return &snap, stderr.String()
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

func dirSize(t *testing.T, root string) (files int, bytes int64) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return
}

// countFiles counts the files under root/sub.
func countFiles(root, sub string) int {
	n, _ := dirSize(nil, filepath.Join(root, sub))
	return n
}

// indexedDataBlobs reads every index file of a repository: data blob
// entries in all, and distinct data blob IDs.
func indexedDataBlobs(t *testing.T, root string) (entries, distinct int) {
	t.Helper()
	seen := map[index.ID]bool{}
	files, _ := filepath.Glob(filepath.Join(root, "index", "*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		err = index.Decode(fh, func(_ index.ID, es []index.Entry) error {
			for _, e := range es {
				if e.Type == 1 {
					entries++
					seen[e.ID] = true
				}
			}
			return nil
		})
		fh.Close()
		if err != nil {
			t.Fatalf("index file %s: %v", f, err)
		}
	}
	return entries, len(seen)
}

func TestE2EDovecot(t *testing.T) {
	for _, tc := range []struct{ name, addrVar, delim string }{
		{"dovecot", "Y360_TEST_DOVECOT_ADDR", "/"},
		{"yandex-caps", "Y360_TEST_DOVECOT_YANDEX_ADDR", "|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t, tc.addrVar, tc.delim, 3)
			folders := []string{"INBOX", "Проекты", "Archive/2025"}
			var seeded int64
			for _, u := range e.users {
				seeded += e.seed(t, u.Email, folders, 20, 4000)
			}
			start := time.Now()
			snap, logs := e.backup(t)
			took := time.Since(start)
			if snap.Status != backup.StatusOK || snap.UsersOK != 3 {
				t.Fatalf("first run: %s, %d users ok: %+v\n%s", snap.Status, snap.UsersOK, snap.Users, tail(logs))
			}
			// Dovecot auto-creates Drafts/Sent/Trash; our three folders hold 20 each.
			if want := int64(3 * 3 * 20); snap.Totals.Items != want {
				t.Errorf("first run stored %d messages, want %d", snap.Totals.Items, want)
			}
			t.Logf("full backup (incl. process start): %d msgs, %.1f MB in %s", snap.Totals.Items, float64(seeded)/1e6, took)
			for _, secret := range []string{y360emu.DemoClientSecret, y360emu.DemoAdminToken, "y0_emu."} {
				if strings.Contains(logs, secret) {
					t.Errorf("debug log contains a secret or token (%q...)", secret[:6])
				}
			}

			// New mail, a flag change and a deletion in INBOX of user 0.
			u0 := e.users[0].Email
			e.seed(t, u0, []string{"INBOX"}, 1, 1000)
			c, _ := imapclient.DialInsecure(e.addr, nil)
			c.Login(u0, e.emu.MintToken(u0)).Wait()
			c.Select("INBOX", nil).Wait()
			c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
			c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
			c.Expunge().Close()
			c.Close()
			snap2, logs2 := e.backup(t)
			if snap2.Totals.Items != 1 || snap2.Totals.MetaChanges != 1 || snap2.Totals.Deleted != 1 {
				t.Errorf("incremental: %+v, want 1 new, 1 flag change, 1 deletion\n%s", snap2.Totals, tail(logs2))
			}
			// The deleted message is still in the first snapshot.
			repo := openTestRepo(t, filepath.Join(e.dir, "repo"))
			first, err := repo.FindSnapshot(context.Background(), snap.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := countItems(t, repo, first, u0, "INBOX"); n != 20 {
				t.Errorf("first snapshot INBOX has %d messages, want 20", n)
			}
			latest, _ := repo.FindSnapshot(context.Background(), snap2.ID)
			if n := countItems(t, repo, latest, u0, "INBOX"); n != 20 {
				t.Errorf("latest INBOX has %d messages, want 20 (+1 -1)", n)
			}

			// No change: only the snapshot and a lock are written.
			_, before := dirSize(t, filepath.Join(e.dir, "repo"))
			snap3, _ := e.backup(t)
			_, after := dirSize(t, filepath.Join(e.dir, "repo"))
			if snap3.Totals.Items+snap3.Totals.MetaChanges+snap3.Totals.Deleted+snap3.Totals.Segments != 0 {
				t.Errorf("no-change run changed something: %+v", snap3.Totals)
			}
			t.Logf("no-change run over 3 users × 6 folders wrote %d bytes", after-before)
			if after-before > 8192 {
				t.Errorf("no-change run wrote %d bytes, want a few KB at most", after-before)
			}
		})
	}
}

// TestE2EKillAndResume kills the backup process with SIGKILL mid-folder and
// checks that the next run stores every message exactly once and uploads
// nothing the killed run had already stored.
func TestE2EKillAndResume(t *testing.T) {
	e := newE2E(t, "Y360_TEST_DOVECOT_ADDR", "/", 1)
	u := e.users[0].Email
	const n = 800
	e.seed(t, u, []string{"INBOX"}, n, 30000)
	repoDir := filepath.Join(e.dir, "repo")
	cmd := exec.Command(buildBinary(t), "backup", "-c", e.cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a checkpoint (every 100 ms here) made committed work
	// durable: a first commit (300 messages) is indexed, then one more
	// checkpoint names it.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, n := indexedDataBlobs(t, repoDir); n >= 300 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ck := countFiles(repoDir, "checkpoints")
	for countFiles(repoDir, "checkpoints") <= ck && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if countFiles(repoDir, "snapshots") > 0 {
		t.Skip("the backup finished before it could be killed")
	}
	_, before := indexedDataBlobs(t, repoDir)
	// The killed writer's lease stops blocking its users after lease_ttl.
	time.Sleep(3 * time.Second)
	snap, logs := e.backup(t)
	if snap.Status != backup.StatusOK {
		t.Fatalf("resumed run: %s\n%s", snap.Status, tail(logs))
	}
	repo := openTestRepo(t, repoDir)
	latest, _ := repo.FindSnapshot(context.Background(), snap.ID)
	if got := countItems(t, repo, latest, u, "INBOX"); got != n {
		t.Errorf("after resume INBOX holds %d messages, want %d", got, n)
	}
	entries, distinct := indexedDataBlobs(t, repoDir)
	if distinct != n || entries != n {
		t.Errorf("index holds %d data blobs (%d distinct) for %d distinct messages: something stored twice or lost", entries, distinct, n)
	}
	if int(snap.Totals.Uploaded)+before != n {
		t.Errorf("resumed run uploaded %d bodies, %d were indexed before: %d != %d", snap.Totals.Uploaded, before, int(snap.Totals.Uploaded)+before, n)
	}
	if before == 0 || snap.Totals.Items >= n {
		t.Errorf("resumed run re-recorded %d of %d messages (%d indexed before): nothing of the killed run was kept", snap.Totals.Items, n, before)
	}
	t.Logf("killed after a checkpoint with %d bodies indexed; resumed run recorded %d messages and uploaded %d bodies", before, snap.Totals.Items, snap.Totals.Uploaded)
}

func TestE2EBadTokenAndUnreachable(t *testing.T) {
	e := newE2E(t, "Y360_TEST_DOVECOT_ADDR", "/", 1)
	// Revoked tokens: the emulator's own validation refuses them, but Dovecot
	// asks the standalone emulator, which shares only the key. A wrong key is
	// the way to make Dovecot refuse: point the config at an emulator with
	// another key.
	other := y360emu.DefaultOrg()
	other.Key = []byte("a-different-key")
	other.Users = e.users
	emu2 := y360emu.New(other)
	emu2.Start()
	defer emu2.Close()
	cfg, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, bytes.ReplaceAll(cfg, []byte(e.emu.URL()), []byte(emu2.URL())), 0o600)
	snap, _ := e.backup(t)
	if snap.Status != backup.StatusFailed || !strings.Contains(snap.Users[0].Error, "refused the OAuth token") {
		t.Errorf("bad token: status %s, error %q", snap.Status, snap.Users[0].Error)
	}
	// Unreachable IMAP server.
	os.WriteFile(e.cfg, bytes.ReplaceAll(cfg, []byte(e.addr), []byte("127.0.0.1:1")), 0o600)
	snap, _ = e.backup(t)
	if snap.Status != backup.StatusFailed || !strings.Contains(snap.Users[0].Error, "127.0.0.1:1") {
		t.Errorf("unreachable: status %s, error %q", snap.Status, snap.Users[0].Error)
	}
}
