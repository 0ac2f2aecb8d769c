// Package demo runs y360backup end to end on a bare machine: it starts the
// Yandex 360 emulator (Directory, token exchange, Disk REST), an XOAUTH2 IMAP
// server and a CalDAV server in process, generates an organization, backs it
// up twice into a local folder and checks what was stored against what the
// servers hold. It is what `y360backup demo` runs: the README's first command.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/internal/caldavdemo"
	"github.com/y360backup/y360backup/internal/imapdemo"
	"github.com/y360backup/y360backup/internal/y360emu"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/calendar"
	"github.com/y360backup/y360backup/sources/contacts"
	"github.com/y360backup/y360backup/sources/disk"
	"github.com/y360backup/y360backup/sources/mail"
	orgsrc "github.com/y360backup/y360backup/sources/org"
	"github.com/y360backup/y360backup/sources/y360"
)

// Options configure a demo run.
type Options struct {
	Dir string    // repository folder; created if missing
	Out io.Writer // where the story is told
	Log *zap.Logger
	// Small shrinks the generated data (tests).
	Small bool
}

// world is the running emulated organization and what it holds.
type world struct {
	emu    *y360emu.Server
	imap   *imapdemo.Server
	cal    *caldavdemo.Server
	calSrv *httptest.Server
	users  []y360emu.User
	mail   map[string]map[string]map[uint32][]byte // email → folder → uid → message
	small  bool
	org    *y360.Client
	srcs   []sources.Source
	orgSrc []sources.Source // the organization source, once per run
}

func (w *world) close() {
	if w.imap != nil {
		w.imap.Close()
	}
	if w.calSrv != nil {
		w.calSrv.Close()
	}
	w.emu.Close()
}

// ErrDirNotEmpty is returned, before anything starts, when Options.Dir
// already holds files: a second demo there would silently continue the
// first one's repository ("Backup 1: full" would be incremental).
var ErrDirNotEmpty = errors.New("demo: the folder is not empty")

// Run executes the demo.
func Run(ctx context.Context, opts Options) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if ents, err := os.ReadDir(opts.Dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%w: %s holds an earlier demo's repository (or other files): remove it, or pass --dir NEW", ErrDirNotEmpty, opts.Dir)
	}
	w, err := startWorld(opts.Small)
	if err != nil {
		return err
	}
	defer w.close()
	fmt.Fprintf(out, "Emulated Yandex 360 organization %s: %d users to back up (a blocked user and a robot are skipped)\n",
		w.emu.OrgID(), len(w.users))
	fmt.Fprintf(out, "  Directory + OAuth + Disk REST: %s\n  IMAP (XOAUTH2):                %s\n  CalDAV:                        %s\n",
		w.emu.URL(), w.imap.Addr(), w.calSrv.URL)

	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return err
	}
	fc := fssink.NewConfig()
	fc.Path = opts.Dir
	sink, err := fssink.Open(fc)
	if err != nil {
		return err
	}
	repo, err := backup.OpenOrInit(ctx, sink, backup.RepoOptions{})
	if err != nil {
		return err
	}
	defer repo.Close()
	run := func(title string) (*backup.Snapshot, error) {
		fmt.Fprintf(out, "\n== %s\n", title)
		start := time.Now()
		snap, err := w.backup(ctx, repo, opts.Log)
		if err != nil {
			return nil, err
		}
		printSnapshot(out, snap, time.Since(start))
		if snap.Status != backup.StatusOK {
			return snap, fmt.Errorf("demo: backup ended %s", snap.Status)
		}
		return snap, nil
	}
	first, err := run("Backup 1: full")
	if err != nil {
		return err
	}
	changes, err := w.change()
	if err != nil {
		return err
	}
	changes += "; " + w.changeOrg()
	fmt.Fprintf(out, "\nChanged the organization: %s\n", changes)
	snap, err := run("Backup 2: incremental")
	if err != nil {
		return err
	}
	if err := showOrgDiff(ctx, out, repo, first, snap); err != nil {
		return err
	}
	if _, err := run("Backup 3: nothing changed"); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Restore check: snapshot %s against the servers\n", snap.ID)
	if err := w.check(ctx, out, repo, snap); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== Restore: lose data, then restore it from snapshot %s\n", snap.ID)
	if err := w.restore(ctx, out, repo, snap, opts.Log); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nRepository: %s\nBrowse it (no config needed):\n  y360backup -r %s snapshots\n  y360backup -r %s ls\n  y360backup -r %s export --out %s-export\n  y360backup -r %s verify\n",
		opts.Dir, shellQuote(opts.Dir), shellQuote(opts.Dir), shellQuote(opts.Dir), shellQuote(strings.TrimRight(opts.Dir, "/")), shellQuote(opts.Dir))
	return nil
}

func startWorld(small bool) (*world, error) {
	o := y360emu.DefaultOrg()
	// The demo also restores, so its service application has the write
	// scopes a real one would need for that (y360backup setup --restore).
	o.ServiceApps = []y360emu.ServiceApp{{ID: o.ClientID,
		Scopes: append(y360emu.DefaultScopes(), "mail:imap_full", "cloud_api:disk.write")}}
	w := &world{emu: y360emu.New(o), small: small, mail: map[string]map[string]map[uint32][]byte{}}
	w.emu.Start()
	for _, u := range w.emu.Users() {
		if !u.Blocked && !u.Robot {
			w.users = append(w.users, u)
		}
	}
	var err error
	if w.imap, err = imapdemo.Start(w.emu.ValidateToken, nil); err != nil {
		w.close()
		return nil, fmt.Errorf("demo: IMAP server: %w", err)
	}
	w.cal = caldavdemo.New(caldavdemo.Options{Validate: w.emu.ValidateToken})
	w.calSrv = httptest.NewServer(w.cal)
	if err := w.wire(); err != nil {
		w.close()
		return nil, err
	}
	for i, u := range w.users {
		if err := w.seedMail(i, u.Email); err != nil {
			w.close()
			return nil, fmt.Errorf("demo: seed mail of %s: %w", u.Email, err)
		}
		if err := caldavdemo.SeedDemo(w.cal, u.Email); err != nil {
			w.close()
			return nil, fmt.Errorf("demo: seed calendars of %s: %w", u.Email, err)
		}
		if err := w.seedDisk(i, u.Email); err != nil {
			w.close()
			return nil, fmt.Errorf("demo: seed Disk of %s: %w", u.Email, err)
		}
		if err := w.emu.SeedDemoContacts(u.Email); err != nil {
			w.close()
			return nil, fmt.Errorf("demo: seed contacts of %s: %w", u.Email, err)
		}
	}
	return w, nil
}

// wire builds the org client and the sources as the CLI does.
func (w *world) wire() error {
	org, err := y360.New(y360.Config{
		OrgID: w.emu.OrgID(), AdminToken: y360emu.DemoAdminToken,
		ClientID: y360emu.DemoClientID, ClientSecret: y360emu.DemoClientSecret,
		APIBase: w.emu.URL(), OAuthURL: w.emu.OAuthURL(), RPS: -1,
	})
	if err != nil {
		return err
	}
	mc := mail.NewConfig()
	mc.Addr, mc.Security = w.imap.Addr(), mail.SecurityPlain
	cc := calendar.NewConfig()
	cc.URL = w.calSrv.URL + "/"
	dc := disk.NewConfig()
	dc.URL, dc.RPS, dc.DownloadRPS = w.emu.URL(), -1, -1
	ct := contacts.NewConfig()
	ct.URL = w.emu.URL() + "/" // the emulator's carddav.yandex.ru
	w.org, w.srcs = org, []sources.Source{mail.New(mc), calendar.New(cc, nil), disk.New(dc, nil), contacts.New(ct, nil)}
	w.orgSrc = []sources.Source{orgsrc.New(org, orgsrc.NewConfig())}
	return nil
}

func (w *world) tokens(u sources.User) sources.TokenSource { return w.org.Tokens(u) }

// backup runs one backup of the whole org.
func (w *world) backup(ctx context.Context, repo *backup.Repository, log *zap.Logger) (*backup.Snapshot, error) {
	return repo.Backup(ctx, backup.RunOptions{
		Users:       w.org,
		Sources:     w.srcs,
		OrgSources:  w.orgSrc,
		Tokens:      w.tokens,
		Concurrency: 3,
		Log:         log,
	})
}

func printSnapshot(out io.Writer, s *backup.Snapshot, d time.Duration) {
	t := s.Totals
	fmt.Fprintf(out, "snapshot %s: %s in %s: %d users, %d folders/calendars/drives\n", s.ID, s.Status, d.Round(time.Millisecond), s.UsersOK+s.UsersFailed, t.Containers)
	for _, u := range s.Users {
		if u.Carried || u.ID == backup.OrgUserID {
			continue
		}
		line := fmt.Sprintf("  %-24s", u.Email)
		for _, name := range []string{"mail", "calendar", "disk", "contacts"} {
			if ss, ok := u.Sources[name]; ok {
				line += fmt.Sprintf(" %s %d new/%d changed/%d gone", name, ss.Stats.Items, ss.Stats.MetaChanges, ss.Stats.Deleted)
				if ss.Stats.Failed > 0 {
					line += fmt.Sprintf(" (%d FAILED)", ss.Stats.Failed)
				}
				line += ";"
			}
		}
		fmt.Fprintln(out, line)
		for _, ss := range u.Sources {
			for _, f := range ss.Failures {
				fmt.Fprintln(out, "    failed:", f)
			}
		}
	}
	printOrg(out, s)
	fmt.Fprintf(out, "  written: %d new objects (%s → %s zstd), %d index segments (%s)\n",
		t.Uploaded, mib(t.Bytes), mib(t.UploadedBytes), t.Segments, kib(t.IndexBytes))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10)) }

// shellQuote quotes p for a POSIX shell when it needs it.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+@") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
