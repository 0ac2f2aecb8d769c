package backup

import (
	"context"
	"strings"
	"testing"
)

// A (user, source) leased by another writer is left to it: this run skips
// it and carries its newest state; once free, the next run backs it up.
func TestLeasedUserIsLeftToItsWriter(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "a1"}},
		"b@x.test": {"INBOX": {"1": "b1"}},
	}}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers)); err != nil {
		t.Fatal(err)
	}
	other, err := r.acquire(ctx, "1", "fake") // another writer holds a@x.test
	if err != nil {
		t.Fatal(err)
	}
	src.data["a@x.test"]["INBOX"]["2"] = "a2"
	src.data["b@x.test"]["INBOX"]["2"] = "b2"
	s, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	got := restoreAll(t, r, s)
	if _, ok := got["a@x.test"]["INBOX"]["2"]; ok || got["a@x.test"]["INBOX"]["1"] != "a1" || got["b@x.test"]["INBOX"]["2"] != "b2" {
		t.Errorf("with a@x.test leased elsewhere: %v", got)
	}
	for _, u := range s.Users {
		if u.Email == "a@x.test" && !u.Carried {
			t.Error("a@x.test, busy in another writer, is not marked carried")
		}
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	if got := restoreAll(t, r, s); got["a@x.test"]["INBOX"]["2"] != "a2" {
		t.Errorf("after the lease was released: %v", got)
	}
	leases, err := r.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		if l.State.String() == "live" {
			t.Errorf("lease %s still live after the runs ended", l.Name)
		}
	}
}

// A container whose stored state cannot be read fails alone, is started
// afresh in the same run, and the run after is clean.
func TestUnreadableSegmentHealsContainer(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "one", "2": "two"}, "Sent": {"1": "sent"}},
	}}
	s1, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	var inbox string
	for _, h := range s1.Users[0].Sources["fake"].Containers {
		if h.Name == "INBOX" {
			inbox = h.Head
		}
	}
	if err := r.DamageObject(ctx, inbox, func(key string, data []byte) error { sink.Corrupt(key, data); return nil }); err != nil {
		t.Fatal(err)
	}
	src.data["a@x.test"]["INBOX"]["3"] = "three"
	// Another host (or a lost cache): its state comes from the repository.
	r, err = Open(ctx, sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s2, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	f := s2.Users[0].Sources["fake"].Failures
	if s2.Status != StatusPartial || len(f) != 1 || !strings.Contains(f[0], "INBOX") || !strings.Contains(f[0], inbox) {
		t.Errorf("status %s, failures %v: want partial, one failure naming INBOX and segment %s", s2.Status, f, inbox)
	}
	got := restoreAll(t, r, s2)["a@x.test"]
	if len(got["INBOX"]) != 3 || got["Sent"]["1"] != "sent" {
		t.Errorf("after healing: %v", got)
	}
	s3, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil || s3.Status != StatusOK {
		t.Errorf("run after healing: %v, status %v", err, s3.Status)
	}
}
