package backup

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// fakeRestorer records what it is asked to write.
type fakeRestorer struct {
	mu      sync.Mutex
	written map[string]string // target container + "/" + id → body
	targets []sources.RestoreTarget
}

func (f *fakeRestorer) RestoreContainer(ctx context.Context, u sources.User, tok sources.TokenSource, t sources.RestoreTarget,
	items []sources.RestoreItem, fail func(string, error)) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets = append(f.targets, t)
	n := 0
	for _, it := range items {
		rc, err := it.Open(ctx)
		if err != nil {
			fail(it.ID, err)
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			fail(it.ID, err)
			continue
		}
		key := u.Email + ":" + t.Under + "/" + t.Original + "/" + it.ID
		if _, ok := f.written[key]; ok && t.Policy == sources.PolicySkip {
			continue
		}
		f.written[key] = string(b)
		n++
	}
	return n, nil
}

func TestRestoreSelectionAndPolicy(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "one", "2": "two"}, "Sent": {"1": "sent"}},
		"b@x.test": {"INBOX": {"1": "bee"}},
	}}
	snap, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRestorer{written: map[string]string{}}
	opts := RestoreOptions{Snapshot: snap, Selection: Selection{Users: []string{"a@x.test"}, Containers: []string{"INB*"}},
		Restorers: map[string]sources.Restorer{"fake": fr},
		Tokens:    func(sources.User) sources.TokenSource { return &nopTokens{} }}
	rep, err := r.Restore(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Items != 2 || rep.Written != 2 || rep.Containers != 1 {
		t.Errorf("report %+v", rep)
	}
	if !strings.HasPrefix(fr.targets[0].Under, "Restored ") || fr.targets[0].Original != "INBOX" {
		t.Errorf("target %+v", fr.targets[0])
	}
	// Rerun: skip policy writes nothing new; same Under (deterministic).
	rep, _ = r.Restore(ctx, opts)
	if rep.Written != 0 || fr.targets[1].Under != fr.targets[0].Under {
		t.Errorf("rerun wrote %d, targets %+v", rep.Written, fr.targets)
	}
	// Into another user, in place.
	opts.ToUser = &sources.User{Email: "b@x.test"}
	opts.InPlace = true
	opts.Selection = Selection{Users: []string{"a@x.test"}}
	if _, err := r.Restore(ctx, opts); err != nil {
		t.Fatal(err)
	}
	if fr.written["b@x.test:/Sent/1"] != "sent" {
		t.Errorf("to-user restore: %v", fr.written)
	}
	// Unknown user is an error naming it.
	opts.Selection = Selection{Users: []string{"nobody@x.test"}}
	if _, err := r.Restore(ctx, opts); err == nil || !strings.Contains(err.Error(), "nobody@x.test") {
		t.Errorf("unknown user: %v", err)
	}
}

func TestSelectionFilters(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	it := func(meta string) ItemView { return ItemView{ID: "x", Meta: []byte(meta)} }
	tests := []struct {
		name string
		sel  Selection
		item ItemView
		want bool
	}{
		{"no filter", Selection{}, it(`{}`), true},
		{"since ok", Selection{Since: d("2025-01-01T00:00:00Z")}, it(`{"date":"2025-06-01T00:00:00Z"}`), true},
		{"since no", Selection{Since: d("2025-01-01T00:00:00Z")}, it(`{"date":"2024-06-01T00:00:00Z"}`), false},
		{"until no", Selection{Until: d("2025-01-01T00:00:00Z")}, it(`{"modified":"2025-06-01T00:00:00Z"}`), false},
		{"undated kept", Selection{Until: d("2025-01-01T00:00:00Z")}, it(`{}`), true},
		{"msgid", Selection{MessageID: "a@b"}, it(`{"message_id":"<a@b>"}`), true},
		{"msgid other", Selection{MessageID: "<a@b>"}, it(`{"message_id":"<c@b>"}`), false},
	}
	for _, tt := range tests {
		if got := tt.sel.wantItem(tt.item); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
}

type nopTokens struct{}

func (nopTokens) Token(context.Context) (string, error) { return "t", nil }
func (nopTokens) Invalidate(string)                     {}

func TestNaturalLess(t *testing.T) {
	ids := []string{"7/10", "7/2", "10/1", "7/1", "disk:/b", "disk:/a10", "disk:/a9", "007/3"}
	sort.Slice(ids, func(i, j int) bool { return naturalLess(ids[i], ids[j]) })
	want := "7/1 7/2 007/3 7/10 10/1 disk:/a9 disk:/a10 disk:/b"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("natural order %q, want %q", got, want)
	}
}

// Two snapshots taken in the same minute (even the same second) restore
// into places of their own: the default destination names the snapshot.
func TestRestoreFolderNamePerSnapshot(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one"}}}}
	snap1, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	src.data["a@x.test"]["INBOX"]["2"] = "two"
	snap2, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	// Pin both into one second: only the ID can tell them apart then.
	s1, s2 := *snap1, *snap2
	s1.Finished = time.Date(2026, 11, 20, 10, 0, 5, 100, time.Local)
	s2.Finished = s1.Finished.Add(500 * time.Millisecond)
	n1, n2 := RestoreFolderName(&s1), RestoreFolderName(&s2)
	if n1 == n2 {
		t.Fatalf("two snapshots share the destination %q", n1)
	}
	want := "Restored 2026-11-20 10h00m05 " + ShortID(s1.ID)
	if n1 != want || strings.ContainsAny(n1, ".:/") {
		t.Errorf("name %q, want %q (no '.', ':' or '/')", n1, want)
	}
	fr := &fakeRestorer{written: map[string]string{}}
	for _, s := range []*Snapshot{&s1, &s2} {
		_, err := r.Restore(ctx, RestoreOptions{Snapshot: s, Restorers: map[string]sources.Restorer{"fake": fr},
			Tokens: func(sources.User) sources.TokenSource { return &nopTokens{} }})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(fr.targets) != 2 || fr.targets[0].Under == fr.targets[1].Under {
		t.Errorf("targets %+v", fr.targets)
	}
}

// A selection naming a container, source or user the snapshot lacks is an
// error wrapping ErrNotFound (ls, restore and export used to succeed on it
// with nothing).
func TestSelectUnknownNamesNotFound(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one"}}}}
	snap, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	nop := func(SelectedContainer) error { return nil }
	for _, sel := range []Selection{
		{Users: []string{"a@x.test"}, Containers: []string{"Nope*"}},
		{Users: []string{"a@x.test"}, Sources: []string{"calendar"}},
		{Users: []string{"nobody@x.test"}},
	} {
		if err := r.Select(ctx, snap, sel, nop); !errors.Is(err, ErrNotFound) {
			t.Errorf("%+v: %v, want ErrNotFound", sel, err)
		}
	}
	if err := r.Select(ctx, snap, Selection{Users: []string{"a@x.test"}, Containers: []string{"INB*"}}, nop); err != nil {
		t.Errorf("matching selection: %v", err)
	}
}
