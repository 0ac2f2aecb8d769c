package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/y360backup/y360backup/sinks"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sinks/mem"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// fakeSource serves containers of items held in memory. It commits after
// every item it writes, reports items named "bad*" as failed, and stops with
// errStop after stopAfter bodies (0 = never) to simulate a crash.
type fakeSource struct {
	data      map[string]map[string]map[string]string // user → container → id → body
	mu        sync.Mutex
	stopAfter int
	fetched   int
}

// take counts one fetch, or reports that the simulated crash point is reached.
func (f *fakeSource) take() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopAfter > 0 && f.fetched >= f.stopAfter {
		return false
	}
	f.fetched++
	return true
}

var errStop = errors.New("simulated crash")

func (f *fakeSource) Name() string { return "fake" }

func (f *fakeSource) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	conts := f.data[u.Email]
	var names []string
	for n := range conts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, old := range st.Containers() {
		if _, ok := conts[old]; !ok {
			if err := st.Remove(ctx, old); err != nil {
				return err
			}
		}
	}
	for _, name := range names {
		c, err := st.Open(ctx, name)
		if err != nil {
			return err
		}
		items := conts[name]
		var ids []string
		for id := range items {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		c.Range(func(it sources.Item) bool {
			if _, ok := items[it.ID]; !ok {
				c.Delete(it.ID)
			}
			return true
		})
		for _, id := range ids {
			body := items[id]
			if strings.HasPrefix(id, "bad") {
				st.Fail(name+" "+id, fmt.Errorf("broken"))
				continue
			}
			if it, ok := c.Get(id); ok && it.Hash == sha256hex([]byte(body)) {
				continue
			}
			if !f.take() {
				c.Close()
				return errStop
			}
			b, err := c.PutBody(ctx, strings.NewReader(body))
			if err != nil {
				return err
			}
			c.Put(sources.Item{ID: id, Hash: b.Hash, Size: b.Size, Meta: []byte(`{"n":1}`)})
			if err := c.Commit(ctx, map[string]string{"last": id}); err != nil {
				return err
			}
		}
		if err := c.Commit(ctx, map[string]string{"last": "end"}); err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

type users []sources.User

func (us users) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for _, u := range us {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// countingSink counts successful Puts and their bytes on any sink.
type countingSink struct {
	sinks.Sink
	mu        sync.Mutex
	puts      int
	bytes     int64
	indexGets int // Gets (whole or ranged) of index segments
	indexKeys []string
}

func (c *countingSink) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.countIndexRead(key)
	return c.Sink.Get(ctx, key)
}

// GetRange counts as an index read too, so "read 0 index segments" cannot
// pass just because the reads moved to ranged GETs.
func (c *countingSink) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	c.countIndexRead(key)
	return c.Sink.GetRange(ctx, key, offset, length)
}

func (c *countingSink) countIndexRead(key string) {
	if strings.HasPrefix(key, "index/") {
		c.mu.Lock()
		c.indexGets++
		c.indexKeys = append(c.indexKeys, key)
		c.mu.Unlock()
	}
}

func (c *countingSink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	err := c.Sink.Put(ctx, key, r, size)
	if err == nil {
		c.mu.Lock()
		c.puts++
		c.bytes += size
		c.mu.Unlock()
	}
	return err
}

// eachSink runs fn against the repository on every sink available: memory,
// the filesystem and, when the test S3 server is configured, S3.
func eachSink(t *testing.T, fn func(t *testing.T, r *Repository, sink *countingSink)) {
	factories := map[string]func(t *testing.T) sinks.Sink{
		"mem": func(t *testing.T) sinks.Sink { return mem.New() },
		"fs": func(t *testing.T) sinks.Sink {
			c := fssink.NewConfig()
			c.Path = t.TempDir()
			s, err := fssink.Open(c)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"s3": testS3Sink,
	}
	for _, name := range []string{"mem", "fs", "s3"} {
		t.Run(name, func(t *testing.T) {
			cs := &countingSink{Sink: factories[name](t)}
			opts := RepoOptions{SpoolDir: t.TempDir()}
			if name == "fs" {
				opts.CacheDir = t.TempDir() // exercise the state cache too
			}
			r, err := OpenOrInit(context.Background(), cs, opts)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, r, cs)
		})
	}
}

func testRepo(t *testing.T) (*Repository, *mem.Sink) {
	t.Helper()
	sink := mem.New()
	r, err := OpenOrInit(context.Background(), sink, RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r, sink
}

func runOpts(src sources.Source, us users) RunOptions {
	return RunOptions{Users: us, Sources: []sources.Source{src},
		Tokens: func(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{Tok: "t"} }}
}

var twoUsers = users{
	{ID: "1", Email: "a@x.test", Enabled: true},
	{ID: "2", Email: "b@x.test", Enabled: true},
	{ID: "3", Email: "robot@x.test", Enabled: true, Robot: true},
	{ID: "4", Email: "blocked@x.test"},
}

// restoreAll returns user → container → id → body as of a snapshot.
func restoreAll(t *testing.T, r *Repository, snap *Snapshot) map[string]map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[string]map[string]string{}
	for _, u := range snap.Users {
		for srcName, ss := range u.Sources {
			for _, h := range ss.Containers {
				v, err := r.LoadContainer(ctx, u.ID, srcName, h)
				if err != nil {
					t.Fatal(err)
				}
				if out[u.Email] == nil {
					out[u.Email] = map[string]map[string]string{}
				}
				m := map[string]string{}
				for id, it := range v.Items {
					rc, err := r.OpenObject(ctx, it.Hash)
					if err != nil {
						t.Fatal(err)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil {
						t.Fatal(err)
					}
					m[id] = string(b)
				}
				out[u.Email][v.Name] = m
			}
		}
	}
	return out
}

func TestBackupIncrementalAndPointInTime(t *testing.T) {
	eachSink(t, testIncrementalAndPointInTime)
}

func testIncrementalAndPointInTime(t *testing.T, r *Repository, sink *countingSink) {
	ctx := context.Background()
	src := &fakeSource{data: map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "hello", "2": "world"}, "Проекты": {"1": "привет"}},
		"b@x.test": {"INBOX": {"1": "hello"}}, // same body as a's: stored once
	}}
	s1, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	if s1.Status != StatusOK || len(s1.Users) != 2 {
		t.Fatalf("status %s, users %d; want ok, 2 (robot and blocked skipped)", s1.Status, len(s1.Users))
	}
	if s1.Totals.Uploaded != 3 {
		t.Errorf("uploaded %d objects, want 3 (dedup across users)", s1.Totals.Uploaded)
	}

	// No change: only the snapshot (and lock) are written. (The first run
	// after a change stores each changed user's tree once more: its
	// per-run counts went back to zero.)
	if _, err := r.Backup(ctx, runOpts(src, twoUsers)); err != nil {
		t.Fatal(err)
	}
	putsBefore, bytesBefore := sink.puts, sink.bytes
	s2, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	// Each (bucket, source) lease costs a claim and a release marker.
	leases := map[int]bool{leaseBucket("1"): true, leaseBucket("2"): true}
	if got, want := sink.puts-putsBefore, 1+2*len(leases); got != want {
		t.Errorf("no-change run made %d puts, want %d (leases, snapshot)", got, want)
	}
	if b := sink.bytes - bytesBefore; b > 4096 {
		t.Errorf("no-change run wrote %d bytes, want a few hundred", b)
	}
	if s2.Totals.Items != 0 || s2.Totals.Segments != 0 {
		t.Errorf("no-change run: %+v", s2.Totals)
	}

	// Change: delete one, change one, add one, drop a folder.
	src.data["a@x.test"]["INBOX"] = map[string]string{"2": "world v2", "3": "new"}
	delete(src.data["a@x.test"], "Проекты")
	s3, err := r.Backup(ctx, runOpts(src, twoUsers))
	if err != nil {
		t.Fatal(err)
	}
	got3 := restoreAll(t, r, s3)
	if want := (map[string]string{"2": "world v2", "3": "new"}); fmt.Sprint(got3["a@x.test"]["INBOX"]) != fmt.Sprint(want) {
		t.Errorf("latest INBOX = %v, want %v", got3["a@x.test"]["INBOX"], want)
	}
	if _, ok := got3["a@x.test"]["Проекты"]; ok {
		t.Error("removed folder still in latest snapshot")
	}
	got1 := restoreAll(t, r, s1)
	if got1["a@x.test"]["INBOX"]["1"] != "hello" || got1["a@x.test"]["Проекты"]["1"] != "привет" {
		t.Errorf("first snapshot lost data: %v", got1)
	}
}

func TestBackupResumeAfterCrash(t *testing.T) {
	eachSink(t, func(t *testing.T, r *Repository, _ *countingSink) { testResumeAfterCrash(t, r) })
}

func testResumeAfterCrash(t *testing.T, r *Repository) {
	ctx := context.Background()
	items := map[string]string{}
	for i := 0; i < 50; i++ {
		items[fmt.Sprintf("%03d", i)] = fmt.Sprintf("body %d", i)
	}
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": items}}, stopAfter: 20}
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusFailed {
		t.Fatalf("crashed run status %s", s.Status)
	}
	src.stopAfter = 0
	src.fetched = 0
	s, err = r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if src.fetched != 30 {
		t.Errorf("resumed run fetched %d bodies, want 30 (20 were committed)", src.fetched)
	}
	got := restoreAll(t, r, s)["a@x.test"]["INBOX"]
	if len(got) != 50 {
		t.Errorf("restored %d items, want 50", len(got))
	}
}

func TestBackupPerItemFailure(t *testing.T) {
	r, _ := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "ok", "bad1": "x"}}}}
	s, err := r.Backup(context.Background(), runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusPartial || s.Totals.Failed != 1 || s.Totals.Items != 1 {
		t.Errorf("status %s totals %+v; want partial, 1 failed, 1 item", s.Status, s.Totals)
	}
	if f := s.Users[0].Sources["fake"].Failures; len(f) != 1 || !strings.Contains(f[0], "bad1") {
		t.Errorf("failures %v", f)
	}
}

func TestBaseSegmentsKeepReplayShort(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	st := r.openUserStore("1", "fake", "run", nil)
	c, _ := st.Open(ctx, "INBOX")
	for i := 0; i < 200; i++ {
		b, _ := c.PutBody(ctx, strings.NewReader(fmt.Sprint(i)))
		c.Put(sources.Item{ID: fmt.Sprint(i), Hash: b.Hash, Size: b.Size})
		if err := c.Commit(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	heads, _ := st.snapshotHeads()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := r.treeReads.Load()
	stt, err := r.loadState(ctx, "INBOX", heads[0].Head)
	if err != nil {
		t.Fatal(err)
	}
	if reads := r.treeReads.Load() - before; reads > baseMaxDeltas+8 {
		t.Errorf("replay read %d segments and pages, want at most %d", reads, baseMaxDeltas+8)
	}
	if len(stt.Items) != 200 || string(stt.Cursor) != "199" {
		t.Errorf("replayed: %d items, cursor %s", len(stt.Items), stt.Cursor)
	}
	st2 := r.openUserStore("1", "fake", "run2", heads)
	c2, _ := st2.Open(ctx, "INBOX")
	if c2.Len() != 200 || string(c2.Cursor()) != "199" {
		t.Errorf("reopened: %d items, cursor %s", c2.Len(), c2.Cursor())
	}
}

// corruptBlob flips a byte inside the stored blob of body hash.
func corruptBlob(t *testing.T, r *Repository, sink *mem.Sink, hash string) {
	t.Helper()
	ctx := context.Background()
	key, off, n, err := r.ObjectLocation(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := sink.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	data[off+n/2] ^= 0x55
	sink.Corrupt(key, data)
}

func TestCorruptObjectDetected(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	b, _, err := r.PutObject(ctx, strings.NewReader(strings.Repeat("payload ", 100)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	corruptBlob(t, r, sink, b.Hash)
	rc, err := r.OpenObject(ctx, b.Hash)
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	if err == nil || !strings.Contains(err.Error(), b.Hash) {
		t.Fatalf("corrupt object read: %v", err)
	}
}

func TestVerifyFindsCorruptAndMissing(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one", "2": "two", "3": "three"}}}}
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Verify(ctx, s, VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.Objects != 3 {
		t.Fatalf("clean verify: %+v, %v", rep, err)
	}
	corruptBlob(t, r, sink, sha256hex([]byte("one")))
	rep, _ = r.Verify(ctx, s, VerifyOptions{})
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "item 1") || !strings.Contains(rep.Problems[0], "a@x.test") {
		t.Fatalf("problems %v, want item 1 of a@x.test", rep.Problems)
	}
	// The whole pack gone: every item is reported, by user and item.
	key, _, _, _ := r.ObjectLocation(ctx, sha256hex([]byte("two")))
	sink.Delete(ctx, key)
	rep, _ = r.Verify(ctx, s, VerifyOptions{})
	joined := strings.Join(rep.Problems, "\n")
	if len(rep.Problems) < 2 || !strings.Contains(joined, "item 2") || !strings.Contains(joined, "a@x.test") {
		t.Errorf("problems do not name user and items: %s", joined)
	}
}

// orgFailSource fails every user as if the service application were refused.
type orgFailSource struct {
	mu    sync.Mutex
	calls int
}

func (o *orgFailSource) Name() string { return "fake" }
func (o *orgFailSource) Backup(ctx context.Context, u sources.User, tok sources.TokenSource, st sources.Store) error {
	o.mu.Lock()
	o.calls++
	o.mu.Unlock()
	return fmt.Errorf("token exchange: %w", sources.ErrOrgCredentials)
}

func TestOrgCredentialFailureStopsRun(t *testing.T) {
	r, _ := testRepo(t)
	var many users
	for i := 0; i < 20; i++ {
		many = append(many, sources.User{ID: fmt.Sprint(i), Email: fmt.Sprintf("u%02d@x.test", i), Enabled: true})
	}
	src := &orgFailSource{}
	opts := runOpts(src, many)
	opts.Concurrency = 1
	s, err := r.Backup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusFailed || src.calls != 1 {
		t.Errorf("status %s after %d attempts; want failed after 1", s.Status, src.calls)
	}
	if !strings.Contains(s.Users[19].Error, "not attempted") {
		t.Errorf("last user: %q", s.Users[19].Error)
	}
}

// A run over part of the org (one user, one source) still yields a newest
// snapshot that restores everything backed up so far.
func TestPartialRunCarriesForward(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	src := &fakeSource{data: map[string]map[string]map[string]string{
		"a@x.test": {"INBOX": {"1": "a1"}},
		"b@x.test": {"INBOX": {"1": "b1"}},
	}}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers)); err != nil {
		t.Fatal(err)
	}
	src.data["a@x.test"]["INBOX"]["2"] = "a2"
	opts := runOpts(src, twoUsers)
	opts.Only = []string{"a@x.test"}
	s2, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s2.UsersOK != 1 || s2.Totals.Items != 1 {
		t.Errorf("partial run counts: %d users ok, %d items; carried users must not count", s2.UsersOK, s2.Totals.Items)
	}
	got := restoreAll(t, r, s2)
	if got["b@x.test"]["INBOX"]["1"] != "b1" || got["a@x.test"]["INBOX"]["2"] != "a2" {
		t.Errorf("newest snapshot lost the carried user or the new item: %v", got)
	}
	for _, u := range s2.Users {
		if u.Email == "b@x.test" && !u.Carried {
			t.Error("b@x.test not marked carried")
		}
	}
}

// Org credentials refused after an earlier snapshot exists, with more users
// than workers: users never attempted keep their previous state (carried) and
// the run does not panic (it did: nil Sources map in carryForward).
func TestOrgCredentialFailureAfterEarlierSnapshot(t *testing.T) {
	ctx := context.Background()
	r, _ := testRepo(t)
	var many users
	data := map[string]map[string]map[string]string{}
	for i := 0; i < 9; i++ {
		u := sources.User{ID: fmt.Sprint(i + 1), Email: fmt.Sprintf("u%02d@x.test", i), Enabled: true}
		many = append(many, u)
		data[u.Email] = map[string]map[string]string{"INBOX": {"1": "body " + u.Email}}
	}
	if _, err := r.Backup(ctx, runOpts(&fakeSource{data: data}, many)); err != nil {
		t.Fatal(err)
	}
	opts := runOpts(&orgFailSource{}, many)
	opts.Concurrency = 4
	s, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusFailed {
		t.Errorf("status %s, want failed", s.Status)
	}
	got := restoreAll(t, r, s)
	for _, u := range many {
		if got[u.Email]["INBOX"]["1"] != "body "+u.Email {
			t.Errorf("%s: newest snapshot lost the earlier backup: %v", u.Email, got[u.Email])
		}
	}
}
