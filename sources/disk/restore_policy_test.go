package disk_test

import (
	"context"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk"
)

// Each collision policy against a Disk that changed since the backup: a
// file untouched, one edited, one deleted, one replaced by a folder of the
// same name, one edited whose first copy name is taken by a stranger, and
// one edited whose first copy name belongs to another backed-up file.
func TestRestorePolicies(t *testing.T) {
	const (
		same    = "disk:/same.txt"
		edited  = "disk:/docs/edited.txt"
		gone    = "disk:/docs/gone.txt"
		nowDir  = "disk:/thing.bin"
		pic     = "disk:/img/pic.jpg"
		picCopy = "disk:/img/pic (restored 1).jpg" // a stranger's file, created after the backup
		ours    = "disk:/c/x.txt"
		ours1   = "disk:/c/x (restored 1).txt" // backed up too
	)
	backedUp := map[string]string{
		same: "same", edited: "edited v1", gone: "gone", nowDir: "a file", pic: "pic v1", ours: "x v1", ours1: "x copy from before",
	}
	tests := []struct {
		policy   string
		wrote    int
		failures []string // item IDs reported
		want     map[string]string
	}{
		{sources.PolicySkip, 1, []string{edited, nowDir, pic, ours}, map[string]string{
			same: "same", edited: "edited v2", gone: "gone", pic: "pic v2", picCopy: "stranger", ours: "x v2", ours1: "x copy from before",
		}},
		{sources.PolicyReplace, 4, []string{nowDir}, map[string]string{
			same: "same", edited: "edited v1", gone: "gone", pic: "pic v1", picCopy: "stranger", ours: "x v1", ours1: "x copy from before",
		}},
		{sources.PolicyCopy, 5, nil, map[string]string{
			same: "same", edited: "edited v2", "disk:/docs/edited (restored 1).txt": "edited v1", gone: "gone",
			"disk:/thing (restored 1).bin": "a file", pic: "pic v2", picCopy: "stranger", "disk:/img/pic (restored 2).jpg": "pic v1",
			ours: "x v2", ours1: "x copy from before", "disk:/c/x (restored 2).txt": "x v1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			d := newRestoreEnv(t, nil)
			email := d.user.Email
			for p, body := range backedUp {
				must(t, d.emu.DiskPutFile(email, p, []byte(body), snapTime))
			}
			snap := d.backup(t)
			must(t, d.emu.DiskPutFile(email, edited, []byte("edited v2"), snapTime))
			must(t, d.emu.DiskRemove(email, gone, true))
			must(t, d.emu.DiskRemove(email, nowDir, true))
			must(t, d.emu.DiskPutFile(email, nowDir+"/inside.txt", []byte("in the folder"), snapTime))
			must(t, d.emu.DiskPutFile(email, pic, []byte("pic v2"), snapTime))
			must(t, d.emu.DiskPutFile(email, picCopy, []byte("stranger"), snapTime))
			must(t, d.emu.DiskPutFile(email, ours, []byte("x v2"), snapTime))

			opts := d.opts(snap)
			opts.InPlace = true
			opts.Policy = tc.policy
			rep, err := d.repo.Restore(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Written != tc.wrote || rep.Failed != len(tc.failures) {
				t.Errorf("wrote %d, %d failures %v; want %d, %d", rep.Written, rep.Failed, rep.Failures, tc.wrote, len(tc.failures))
			}
			text := failuresText(rep)
			t.Logf("%s failures:\n%s", tc.policy, text)
			for _, id := range tc.failures {
				if !strings.Contains(text, id+": ") {
					t.Errorf("no failure names %s:\n%s", id, text)
				}
			}
			if tc.policy == sources.PolicySkip && (strings.Count(text, "exists with other content") != 3 ||
				strings.Count(text, "use --policy replace or copy") != 3 || !strings.Contains(text, "a folder of that name is there")) {
				t.Errorf("skip failures do not say what is there and what to do:\n%s", text)
			}
			if tc.policy == sources.PolicyReplace && !strings.Contains(text, "a folder is there") {
				t.Errorf("replace over a folder not explained:\n%s", text)
			}
			got := d.account(t, email)
			for p, body := range tc.want {
				if string(got[p].data) != body {
					t.Errorf("%s: %q, want %q", p, got[p].data, body)
				}
			}
			if string(got[nowDir+"/inside.txt"].data) != "in the folder" {
				t.Error("the folder that took a file's name was touched")
			}
			if n := len(got); n != len(tc.want)+1 {
				t.Errorf("%d files, want %d: %v", n, len(tc.want)+1, keys(got))
			}
			if g := got[same]; !g.modified.Equal(snapTime) || g.props != nil {
				t.Errorf("the untouched file was rewritten or patched: %+v", g)
			}
			uploadsOK(t, d.emu, email)

			// A rerun settles everything the first run wrote and writes nothing.
			d.emu.ResetDiskUploadCounts()
			rep, err = d.repo.Restore(context.Background(), opts)
			if err != nil || rep.Written != 0 || rep.Failed != len(tc.failures) || len(d.emu.DiskUploadCounts(email)) != 0 {
				t.Errorf("rerun: %v, wrote %d, %d failures, uploads %v", err, rep.Written, rep.Failed, d.emu.DiskUploadCounts(email))
			}
		})
	}
}

// An unknown policy is refused before anything is sent.
func TestRestoreUnknownPolicy(t *testing.T) {
	d := newRestoreEnv(t, nil)
	_, err := d.src.RestoreContainer(context.Background(), d.user, d.tokensFor(d.user.Email),
		sources.RestoreTarget{Original: disk.ContainerName, Policy: "merge"}, nil, func(string, error) {})
	if err == nil || !strings.Contains(err.Error(), `"merge"`) || totalRequests(d.emu) != 0 {
		t.Fatalf("err %v, %d requests", err, totalRequests(d.emu))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
