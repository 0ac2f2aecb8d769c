package disk_test

import (
	"strings"
	"testing"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk"
)

// Back up, delete everything, restore in place: every file comes back
// byte for byte at its path, the original modified time in the custom
// property; a rerun uploads nothing.
func TestRestoreInPlaceRoundTrip(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	n := seedCorpus(t, d, email)
	before := d.account(t, email)
	snap := d.backup(t)
	d.wipe(t, email)

	d.emu.ResetCounts()
	opts := d.opts(snap)
	opts.InPlace = true
	rep := d.restore(t, opts)
	if rep.Items != n || rep.Written != n || rep.Containers != 1 || rep.Target != "in place" {
		t.Errorf("report %+v, want %d items written", rep, n)
	}
	after := d.account(t, email)
	if len(after) != n {
		t.Errorf("%d files after restore, %d before", len(after), n)
	}
	assertHolds(t, after, before, nil)
	if got := uploadsOK(t, d.emu, email); got != n {
		t.Errorf("%d uploads for %d files", got, n)
	}
	// Per file: upload link, PUT, PATCH; plus one mkdir per missing
	// folder and one refused link per file whose folder was missing the
	// first time.
	links, puts, patches := d.emu.Count("/v1/disk/resources/upload"), d.emu.Count("/upload-target/"), countMethod(d.emu, "PATCH")
	t.Logf("in place: %d files, %d links, %d PUTs, %d PATCHes, %d requests in all", n, links, puts, patches, totalRequests(d.emu))
	if puts != n || patches != n {
		t.Errorf("%d PUTs, %d PATCHes for %d files", puts, patches, n)
	}

	// Rerun: everything is there; one refused link and one look per
	// file, no upload, no PATCH (the properties are set).
	d.emu.ResetCounts()
	rep = d.restore(t, opts)
	if rep.Written != 0 || d.emu.Count("/upload-target/") != 0 || countMethod(d.emu, "PATCH") != 0 {
		t.Errorf("rerun wrote %d, %d PUTs, %d PATCHes", rep.Written, d.emu.Count("/upload-target/"), countMethod(d.emu, "PATCH"))
	}
	assertHolds(t, d.account(t, email), before, nil)
}

// The default, non-destructive restore goes under "Restored <time>/" and
// leaves the originals alone; a rerun continues there and writes nothing.
func TestRestoreIntoRestoredFolder(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	n := seedCorpus(t, d, email)
	before := d.account(t, email)
	snap := d.backup(t)
	must(t, d.emu.DiskPutFile(email, "/Документы/Отчёт за 2024.txt", []byte("changed since"), snap.Started))

	rep := d.restore(t, d.opts(snap))
	under := engine.RestoreFolderName(snap)
	if rep.Target != under || rep.Written != n {
		t.Errorf("report %+v", rep)
	}
	after := d.account(t, email)
	assertHolds(t, after, before, func(p string) string { return "disk:/" + under + strings.TrimPrefix(p, "disk:") })
	if got := string(after["disk:/Документы/Отчёт за 2024.txt"].data); got != "changed since" {
		t.Errorf("the original was touched: %q", got)
	}
	if len(after) != 2*n {
		t.Errorf("%d files, want %d originals + %d restored", len(after), n, n)
	}

	d.emu.ResetCounts()
	if rep := d.restore(t, d.opts(snap)); rep.Written != 0 || d.emu.Count("/upload-target/") != 0 {
		t.Errorf("rerun wrote %d", rep.Written)
	}
	uploadsOK(t, d.emu, email)
}

// --to-user: alice's files land in bob's Disk at their paths; bob's own
// files and alice's Disk are untouched.
func TestRestoreToOtherUser(t *testing.T) {
	d := newRestoreEnv(t, nil)
	alice := d.user.Email
	bob := "bob-" + alice
	n := seedCorpus(t, d, alice)
	before := d.account(t, alice)
	must(t, d.emu.DiskPutFile(bob, "/bobs own.txt", []byte("bob"), snapTime))
	must(t, d.emu.DiskPutFile(bob, "/Документы/bob.txt", []byte("bob too"), snapTime))
	snap := d.backup(t)

	opts := d.opts(snap)
	opts.InPlace = true
	opts.ToUser = &sources.User{ID: bob, Email: bob, Enabled: true}
	rep := d.restore(t, opts)
	if rep.Written != n {
		t.Errorf("wrote %d of %d", rep.Written, n)
	}
	got := d.account(t, bob)
	assertHolds(t, got, before, nil)
	if string(got["disk:/bobs own.txt"].data) != "bob" || string(got["disk:/Документы/bob.txt"].data) != "bob too" || len(got) != n+2 {
		t.Errorf("bob's own files changed, or %d files (want %d)", len(got), n+2)
	}
	if len(d.emu.DiskUploadCounts(alice)) != 0 {
		t.Error("restoring into bob uploaded to alice")
	}
	assertHolds(t, d.account(t, alice), before, nil)
}

// A file deleted between two backups is restorable from the first
// snapshot only.
func TestRestorePointInTime(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	seedCorpus(t, d, email)
	const gone = "disk:/Документы/Договоры/договор №17.pdf"
	goneBytes := d.account(t, email)[gone]
	first := d.backup(t)
	must(t, d.emu.DiskRemove(email, gone, true))
	second := d.backup(t)

	for _, tc := range []struct {
		name  string
		snap  *engine.Snapshot
		wrote int
	}{
		{"latest snapshot does not have it", second, 0},
		{"first snapshot has it", first, 1},
	} {
		opts := d.opts(tc.snap)
		opts.InPlace = true
		rep := d.restore(t, opts)
		files := d.account(t, email)
		got, ok := files[gone]
		if rep.Written != tc.wrote || ok != (tc.wrote == 1) {
			t.Errorf("%s: wrote %d, file present %v", tc.name, rep.Written, ok)
		}
		if ok {
			assertHolds(t, map[string]diskFile{gone: got}, map[string]diskFile{gone: goneBytes}, nil)
		}
	}
}

// The modified time survives a second round: a restored file backed up
// again records the property as OriginalModified, and restoring that
// backup elsewhere carries the original time on.
func TestRestoreModifiedSurvivesRounds(t *testing.T) {
	d := newRestoreEnv(t, nil)
	email := d.user.Email
	must(t, d.emu.DiskPutFile(email, "/a/f.txt", []byte("x"), snapTime))
	before := d.account(t, email)
	first := d.backup(t)
	d.wipe(t, email)
	opts := d.opts(first)
	opts.InPlace = true
	d.restore(t, opts)

	second := d.backup(t) // Disk's own modified is now the restore time
	d.wipe(t, email)
	opts = d.opts(second)
	opts.InPlace = true
	d.restore(t, opts)
	assertHolds(t, d.account(t, email), before, nil)
	got := d.account(t, email)["disk:/a/f.txt"]
	if got.props[disk.DefaultModifiedProperty] != snapTime.Format("2006-01-02T15:04:05-07:00") {
		t.Errorf("after two rounds the property is %v", got.props)
	}
}

// With the property turned off a restore sends two requests per file
// (link and PUT) and patches nothing.
func TestRestoreWithoutModifiedProperty(t *testing.T) {
	d := newRestoreEnv(t, func(c *disk.Config) { c.ModifiedProperty = disk.NoModifiedProperty })
	email := d.user.Email
	for i := range 5 {
		must(t, d.emu.DiskPutFile(email, "/flat "+string(rune('a'+i))+".txt", []byte(strings.Repeat("b", i)), snapTime))
	}
	snap := d.backup(t)
	d.wipe(t, email)
	d.emu.ResetCounts()
	opts := d.opts(snap)
	opts.InPlace = true
	if rep := d.restore(t, opts); rep.Written != 5 {
		t.Fatalf("wrote %d", rep.Written)
	}
	if n, patches := totalRequests(d.emu), countMethod(d.emu, "PATCH"); n != 10 || patches != 0 {
		t.Errorf("%d requests, %d PATCHes; want 10 and none", n, patches)
	}
	for p, f := range d.account(t, email) {
		if f.props != nil {
			t.Errorf("%s has properties %v", p, f.props)
		}
	}
}
