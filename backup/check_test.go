package backup

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/mem"
)

func firstKey(t *testing.T, sink *mem.Sink, prefix string) string {
	t.Helper()
	var key string
	sink.List(context.Background(), prefix, func(oi sinks.ObjectInfo) error {
		if key == "" {
			key = oi.Key
		}
		return nil
	})
	if key == "" {
		t.Fatalf("no key under %s", prefix)
	}
	return key
}

func readKey(t *testing.T, sink *mem.Sink, key string) []byte {
	t.Helper()
	rc, err := sink.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

// Verify sees damage to every kind of stored file, with the writer's warm
// local cache on, and names the file.
func TestVerifySeesEveryKindOfDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, r *Repository, sink *mem.Sink)
		want   string
	}{
		{"truncated index file", func(t *testing.T, r *Repository, sink *mem.Sink) {
			k := firstKey(t, sink, indexPrefix)
			b := readKey(t, sink, k)
			sink.Corrupt(k, b[:len(b)/2])
		}, "corrupt (its bytes hash"},
		{"deleted index file", func(t *testing.T, r *Repository, sink *mem.Sink) {
			k := firstKey(t, sink, indexPrefix)
			sink.Delete(context.Background(), k)
			// The packs it named are now unindexed; the items they held are lost.
		}, "in no index file"},
		{"truncated pack", func(t *testing.T, r *Repository, sink *mem.Sink) {
			k := firstKey(t, sink, dataPrefix)
			b := readKey(t, sink, k)
			sink.Corrupt(k, b[:len(b)-1])
		}, "truncated or damaged"},
		{"deleted pack", func(t *testing.T, r *Repository, sink *mem.Sink) {
			sink.Delete(context.Background(), firstKey(t, sink, dataPrefix))
		}, "missing, named by index/"},
		{"garbage snapshot", func(t *testing.T, r *Repository, sink *mem.Sink) {
			k := firstKey(t, sink, snapshotPrefix)
			sink.Corrupt(k, []byte("garbage"))
		}, "corrupt"},
		{"planted snapshot from the future", func(t *testing.T, r *Repository, sink *mem.Sink) {
			sink.Put(context.Background(), snapshotPrefix+"29991231T000000.000000000Z-deadbeef.json.zst", strings.NewReader("x"), 1)
		}, "29991231"},
		{"corrupt checkpoint", func(t *testing.T, r *Repository, sink *mem.Sink) {
			sink.Put(context.Background(), checkpointPrefix+"00000000000000000099-x", strings.NewReader("not json"), 8)
		}, "checkpoint"},
		{"deleted repo.json", func(t *testing.T, r *Repository, sink *mem.Sink) {
			sink.Delete(context.Background(), configKey)
		}, "repo.json: unreadable"},
		{"foreign file in data/", func(t *testing.T, r *Repository, sink *mem.Sink) {
			sink.Put(context.Background(), dataPrefix+"zz/evil", strings.NewReader("x"), 1)
		}, "not a pack name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			r, sink := testRepo(t)
			defer r.Close()
			src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one", "2": "two"}}}}
			s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
			if err != nil {
				t.Fatal(err)
			}
			rep, err := r.Verify(ctx, s, VerifyOptions{})
			if err != nil || len(rep.Problems) != 0 || rep.IndexFiles == 0 || rep.Packs == 0 || rep.Snapshots != 1 {
				t.Fatalf("clean verify: %+v, %v", rep, err)
			}
			c.damage(t, r, sink)
			rep, err = r.Verify(ctx, s, VerifyOptions{})
			joined := strings.Join(rep.Problems, "\n")
			if err != nil || !strings.Contains(joined, c.want) {
				t.Fatalf("after damage: err %v, problems:\n%s\nwant one containing %q", err, joined, c.want)
			}
		})
	}
}

// A pack no index names (a run killed between pack and index) is counted,
// not reported as damage.
func TestVerifyCountsUnindexedPacks(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	defer r.Close()
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one"}}}}
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	k := firstKey(t, sink, dataPrefix)
	b := readKey(t, sink, k)
	b[0] ^= 1 // another pack's bytes, named by their hash
	orphan := packKey(pack.Hash(b))
	sink.Put(ctx, orphan, strings.NewReader(string(b)), int64(len(b)))
	rep, err := r.Verify(ctx, s, VerifyOptions{})
	if err != nil || len(rep.Problems) != 0 || rep.UnindexedPacks != 1 {
		t.Fatalf("verify with an unindexed pack: %+v, %v", rep, err)
	}
}

// A garbage object planted as the newest snapshot neither breaks the next
// backup nor makes it start afresh: it resumes from the newest good one.
func TestBackupSkipsGarbageNewestSnapshot(t *testing.T) {
	ctx := context.Background()
	r, sink := testRepo(t)
	defer r.Close()
	src := &fakeSource{data: map[string]map[string]map[string]string{"a@x.test": {"INBOX": {"1": "one", "2": "two"}}}}
	if _, err := r.Backup(ctx, runOpts(src, twoUsers[:1])); err != nil {
		t.Fatal(err)
	}
	sink.Put(ctx, snapshotPrefix+"29991231T000000.000000000Z-deadbeef.json.zst", strings.NewReader("garbage"), 7)
	s, err := r.Backup(ctx, runOpts(src, twoUsers[:1]))
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Uploaded != 0 || len(s.Users) != 1 {
		t.Fatalf("second run after a planted snapshot: %+v", s.Totals)
	}
	if got := restoreAll(t, r, s)["a@x.test"]["INBOX"]; len(got) != 2 {
		t.Fatalf("second snapshot holds %v", got)
	}
}
