package backup

// Measurements of repository format 2 against the targets of its issue
// ("Done when"). These are not CI tests: each runs only when Y360_MEASURE
// names it ("all" runs every one that needs no external server), logs its
// numbers with t.Logf (lines starting "MEASURE"), and fails only when the
// engine itself fails, never on a number. bench/format2.sh runs them all and
// collects the lines.
//
//	Y360_MEASURE=index    one 50,000-message folder from empty: index bytes written vs final
//	Y360_MEASURE=nochange a no-change run over 1,000 users: bytes and requests written
//	Y360_MEASURE=mailputs a real mail backup (mail source → Dovecot) into S3: PUTs per 1,000 messages
//	                      (needs Y360_MEASURE_IMAP=host:port, Y360_MEASURE_USERS_FILE and the
//	                      Y360_TEST_S3_* variables of scripts/peers-up.sh)
//	Y360_MEASURE=compress stored/raw ratio of the bench corpus by zstd level (Y360_MEASURE_CORPUS=ROOT/mail)
//	Y360_MEASURE=history  writes a synthetic history (Y360_HISTORY_SNAPSHOTS runs over
//	                      Y360_HISTORY_USERS users) into the fs repository Y360_HISTORY_DIR,
//	                      for timing the CLI's read commands on it

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/y360backup/y360backup/backup/b64lines"

	"github.com/y360backup/y360backup/backup/index"
	"github.com/y360backup/y360backup/backup/pack"
	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/counting"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/mail"
	"github.com/y360backup/y360backup/sources/sourcetest"
)

// measureGate skips unless Y360_MEASURE names this measurement (or "all",
// for those that need nothing outside the process).
func measureGate(t *testing.T, name string, standalone bool) {
	t.Helper()
	for _, w := range strings.FieldsFunc(os.Getenv("Y360_MEASURE"), func(r rune) bool { return r == ',' || r == ' ' }) {
		if w == name || (w == "all" && standalone) {
			return
		}
	}
	t.Skipf("measurement: set Y360_MEASURE=%s to run", name)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// prefixSink counts requests and bytes put per top-level key prefix
// ("data", "index", "snapshots", "checkpoints", "leases", "repo.json").
type prefixSink struct {
	*counting.Sink
	mu    sync.Mutex
	puts  map[string]int64
	bytes map[string]int64
}

func newPrefixSink(inner sinks.Sink) *prefixSink {
	return &prefixSink{Sink: counting.New(inner), puts: map[string]int64{}, bytes: map[string]int64{}}
}

func topPrefix(key string) string {
	p, _, _ := strings.Cut(key, "/")
	return p
}

func (s *prefixSink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	before := s.Sink.Counts().BytesPut
	err := s.Sink.Put(ctx, key, r, size)
	n := size
	if n < 0 {
		n = s.Sink.Counts().BytesPut - before // racy under concurrency; only for size -1
	}
	s.mu.Lock()
	s.puts[topPrefix(key)]++
	if err == nil {
		s.bytes[topPrefix(key)] += n
	}
	s.mu.Unlock()
	return err
}

type prefixCounts struct {
	counting.Counts
	Puts  map[string]int64
	Bytes map[string]int64
}

func (s *prefixSink) snapshot() prefixCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	pc := prefixCounts{Counts: s.Sink.Counts(), Puts: map[string]int64{}, Bytes: map[string]int64{}}
	for k, v := range s.puts {
		pc.Puts[k] = v
	}
	for k, v := range s.bytes {
		pc.Bytes[k] = v
	}
	return pc
}

func (pc prefixCounts) sub(before prefixCounts) prefixCounts {
	out := prefixCounts{Counts: pc.Counts.Sub(before.Counts), Puts: map[string]int64{}, Bytes: map[string]int64{}}
	for k, v := range pc.Puts {
		if d := v - before.Puts[k]; d != 0 {
			out.Puts[k] = d
		}
	}
	for k, v := range pc.Bytes {
		if d := v - before.Bytes[k]; d != 0 {
			out.Bytes[k] = d
		}
	}
	return out
}

func (pc prefixCounts) String() string {
	var keys []string
	for k := range pc.Puts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "puts=%d bytes_put=%d gets=%d getranges=%d lists=%d deletes=%d stats=%d |", pc.Counts.Puts, pc.Counts.BytesPut,
		pc.Gets, pc.GetRanges, pc.Lists, pc.Deletes, pc.Stats)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s: %d puts %d B;", k, pc.Puts[k], pc.Bytes[k])
	}
	return b.String()
}

// synthSource is a mail-like source over generated data: per user, folders
// of numbered messages with mail-shaped metadata. Like the mail source it
// skips messages already stored, commits when the container says it is due
// (every 300 items or 15 s by default) and at the end of each folder.
type synthSource struct {
	folders  map[string]map[string]int // email → folder → messages (UIDs 1..n)
	bodySize int                       // approximate body size
}

func (s *synthSource) Name() string { return "mail" }

func synthBody(email, folder string, uid, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(uid), uint64(len(email)+len(folder))))
	var b strings.Builder
	fmt.Fprintf(&b, "From: a@example.org\r\nTo: %s\r\nSubject: message %d in %s\r\nMessage-Id: <%d.%s@example.org>\r\n\r\n", email, uid, folder, uid, folder)
	words := []string{"отчёт", "встреча", "проект", "report", "meeting", "deadline", "бюджет", "the", "and", "план"}
	for b.Len() < size {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
		if r.IntN(12) == 0 {
			b.WriteString("\r\n")
		}
	}
	return []byte(b.String())
}

func synthMeta(uid int, size int) json.RawMessage {
	flags := []string{`\Seen`}
	if uid%10 == 0 {
		flags = append(flags, `\Answered`)
	}
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(uid) * 17 * time.Minute)
	b, _ := json.Marshal(map[string]any{"uid": uid, "flags": flags, "date": date.Format(time.RFC3339),
		"size": size, "message_id": fmt.Sprintf("%d.synthetic@example.org", uid)})
	return b
}

func (s *synthSource) Backup(ctx context.Context, u sources.User, _ sources.TokenSource, st sources.Store) error {
	folders := s.folders[u.Email]
	names := make([]string, 0, len(folders))
	for n := range folders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		c, err := st.Open(ctx, name)
		if err != nil {
			return err
		}
		n := folders[name]
		for uid := 1; uid <= n; uid++ {
			id := "1700000000/" + strconv.Itoa(uid)
			if _, ok := c.Get(id); ok {
				continue
			}
			body := synthBody(u.Email, name, uid, s.bodySize)
			b, err := c.PutBody(ctx, strings.NewReader(string(body)))
			if err != nil {
				return err
			}
			c.Put(sources.Item{ID: id, Hash: b.Hash, Size: b.Size, Meta: synthMeta(uid, len(body))})
			if c.Due() {
				if err := c.Commit(ctx, map[string]any{"uidvalidity": 1700000000, "last_uid": uid}); err != nil {
					return err
				}
			}
		}
		if err := c.Commit(ctx, map[string]any{"uidvalidity": 1700000000, "last_uid": n}); err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

func synthUsers(n int) users {
	us := make(users, n)
	for i := range us {
		us[i] = sources.User{ID: strconv.Itoa(1130000000000000 + i), Email: fmt.Sprintf("u%05d@example.org", i), Enabled: true}
	}
	return us
}

func noTokens(sources.User) sources.TokenSource { return &sourcetest.StaticTokens{Tok: "x"} }

func measureFSSink(t *testing.T, dir string) sinks.Sink {
	t.Helper()
	c := fssink.NewConfig()
	c.Path = dir
	s, err := fssink.Open(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// treeBytes sums the stored (compressed) length of the tree blobs named by
// every index file, and the size of the packs that hold only tree blobs.
func treeBytes(t *testing.T, ctx context.Context, sink sinks.Sink) (blobBytes, packBytes int64, packs int) {
	t.Helper()
	var keys []string
	if err := sink.List(ctx, indexPrefix, func(oi sinks.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		rc, err := sink.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		err = index.Decode(rc, func(p index.ID, es []index.Entry) error {
			trees := 0
			for _, e := range es {
				if e.Type == index.TypeTree {
					trees++
					blobBytes += int64(e.Length)
				}
			}
			if trees == len(es) && trees > 0 {
				oi, err := sink.Stat(ctx, packKey(pack.ID(p)))
				if err != nil {
					return err
				}
				packBytes += oi.Size
				packs++
			}
			return nil
		})
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return blobBytes, packBytes, packs
}

// headBytes is what a container's final state costs in the repository:
// the stored (compressed) bytes of its head segment, every delta back to
// the base, the base and the base's pages; raw is the same uncompressed.
func headBytes(t *testing.T, ctx context.Context, r *Repository, head string) (stored, raw int64, deltas, pages int) {
	t.Helper()
	size := func(id string) {
		pid, _ := parseHash(id)
		loc, ok, err := r.blobs.lookup(ctx, pid)
		if err != nil || !ok {
			t.Fatalf("blob %s: %v %v", id, ok, err)
		}
		stored += int64(loc.Length)
		raw += int64(loc.RawLength)
	}
	for id := head; id != ""; {
		doc, err := r.readSegment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		size(id)
		if doc.Kind == segBase {
			for _, p := range doc.Pages {
				size(p)
			}
			pages = len(doc.Pages)
			break
		}
		deltas++
		id = doc.Prev
	}
	return stored, raw, deltas, pages
}

// TestMeasureIndexGrowth: a first backup of ONE folder of 50,000 messages
// (Y360_MEASURE_MSGS) committed every 300 items like the mail source. Target:
// tree bytes written ≤ 3 × the final state's tree bytes.
func TestMeasureIndexGrowth(t *testing.T) {
	measureGate(t, "index", true)
	ctx := context.Background()
	n := envInt("Y360_MEASURE_MSGS", 50_000)
	ps := newPrefixSink(measureFSSink(t, t.TempDir()))
	r, err := OpenOrInit(ctx, ps, RepoOptions{SpoolDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	us := synthUsers(1)
	src := &synthSource{folders: map[string]map[string]int{us[0].Email: {"INBOX": n}}, bodySize: 600}
	t0 := time.Now()
	snap, err := r.Backup(ctx, RunOptions{Users: us, Sources: []sources.Source{src}, Tokens: noTokens})
	if err != nil || snap.Status != StatusOK {
		t.Fatalf("backup: %v %+v", err, snap)
	}
	wall := time.Since(t0)
	full, err := r.FindSnapshot(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	heads := full.Users[0].Sources["mail"].Containers
	if len(heads) != 1 {
		t.Fatalf("heads %+v", heads)
	}
	stored, raw, deltas, pages := headBytes(t, ctx, r, heads[0].Head)
	blobs, packBytes, packs := treeBytes(t, ctx, r.sink)
	tot := snap.Totals
	t.Logf("MEASURE index: %d messages in one folder, %d segments committed, wall %v", tot.Items, tot.Segments, wall.Round(time.Millisecond))
	t.Logf("MEASURE index: final state: %d B stored (%d B raw): head chain of %d deltas + base of %d pages", stored, raw, deltas, pages)
	t.Logf("MEASURE index: written: Stats.IndexBytes %d B = %.2f x final; all tree blobs in index files %d B = %.2f x final; %d tree-only packs %d B = %.2f x final",
		tot.IndexBytes, float64(tot.IndexBytes)/float64(stored), blobs, float64(blobs)/float64(stored), packs, packBytes, float64(packBytes)/float64(stored))
	c := ps.snapshot()
	t.Logf("MEASURE index: requests: %s", c)
}

// TestMeasureNoChange: a run over 1,000 users (Y360_MEASURE_USERS) in which
// nothing changed. Target: ≤ 16 KB written.
func TestMeasureNoChange(t *testing.T) {
	measureGate(t, "nochange", true)
	ctx := context.Background()
	nu := envInt("Y360_MEASURE_USERS", 1000)
	ps := newPrefixSink(measureFSSink(t, t.TempDir()))
	r, err := OpenOrInit(ctx, ps, RepoOptions{SpoolDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	us := synthUsers(nu)
	src := &synthSource{folders: map[string]map[string]int{}, bodySize: 2000}
	for _, u := range us {
		src.folders[u.Email] = map[string]int{"INBOX": 5, "Sent": 2}
	}
	opts := RunOptions{Users: us, Sources: []sources.Source{src}, Tokens: noTokens}
	c0 := ps.snapshot()
	t0 := time.Now()
	s, err := r.Backup(ctx, opts)
	if err != nil || s.Status != StatusOK {
		t.Fatalf("first backup: %v", err)
	}
	t1 := time.Now()
	c1 := ps.snapshot()
	s2, err := r.Backup(ctx, opts)
	if err != nil || s2.Status != StatusOK {
		t.Fatalf("no-change backup: %v", err)
	}
	t2 := time.Now()
	c2 := ps.snapshot()
	t.Logf("MEASURE nochange: first run over %d users (%d messages): %v; %s", nu, 7*nu, t1.Sub(t0).Round(time.Millisecond), c1.sub(c0))
	t.Logf("MEASURE nochange: no-change run: %v; %s", t2.Sub(t1).Round(time.Millisecond), c2.sub(c1))
	t.Logf("MEASURE nochange: no-change run wrote %d B in %d PUTs (target ≤ 16384 B)", c2.sub(c1).Counts.BytesPut, c2.sub(c1).Counts.Puts)
	// The first no-change run after a run that changed things differs from
	// the next ones (per-run facts stored in the user trees change once):
	// a third run shows the steady state.
	s3, err := r.Backup(ctx, opts)
	if err != nil || s3.Status != StatusOK {
		t.Fatalf("second no-change backup: %v", err)
	}
	t3 := time.Now()
	c3 := ps.snapshot()
	t.Logf("MEASURE nochange: second no-change run: %v; %s", t3.Sub(t2).Round(time.Millisecond), c3.sub(c2))
	t.Logf("MEASURE nochange: second no-change run wrote %d B in %d PUTs (target ≤ 16384 B)", c3.sub(c2).Counts.BytesPut, c3.sub(c2).Counts.Puts)
	if diff := userTreeDiff(t, ctx, r, s.Root, s2.Root); diff != "" {
		t.Logf("MEASURE nochange: why the first no-change run wrote user trees: %s", diff)
	}
}

// userTreeDiff shows, for the first user, how its tree differs between two
// snapshot roots ("" when equal).
func userTreeDiff(t *testing.T, ctx context.Context, r *Repository, root1, root2 string) string {
	t.Helper()
	u1, err := r.readUserTrees(ctx, root1)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := r.readUserTrees(ctx, root2)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(u1[0])
	b, _ := json.Marshal(u2[0])
	if string(a) == string(b) {
		return ""
	}
	return fmt.Sprintf("before %s, after %s", a, b)
}

// TestMeasureMailPuts: one full backup by the real mail source from an IMAP
// server (the shared bench's Dovecot with its corpus) into S3. Target: ≤ 10
// PUTs per 1,000 messages.
func TestMeasureMailPuts(t *testing.T) {
	measureGate(t, "mailputs", false)
	addr, usersFile := os.Getenv("Y360_MEASURE_IMAP"), os.Getenv("Y360_MEASURE_USERS_FILE")
	if addr == "" || usersFile == "" {
		t.Fatal("set Y360_MEASURE_IMAP=host:port and Y360_MEASURE_USERS_FILE (the bench corpus's users.txt)")
	}
	f, err := os.Open(usersFile)
	if err != nil {
		t.Fatal(err)
	}
	var us users
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e := strings.TrimSpace(sc.Text()); e != "" {
			us = append(us, sources.User{ID: strconv.Itoa(1130000000000000 + len(us)), Email: e, Enabled: true})
		}
	}
	f.Close()
	ctx := context.Background()
	ps := newPrefixSink(testS3Sink(t))
	r, err := OpenOrInit(ctx, ps, RepoOptions{SpoolDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	src := mail.New(mail.Config{Addr: addr, Security: mail.SecurityPlain, Timeout: time.Minute})
	opts := RunOptions{Users: us, Sources: []sources.Source{src}, Concurrency: 4,
		Tokens: func(u sources.User) sources.TokenSource { return &sourcetest.StaticTokens{Tok: "valid-" + u.Email} }}
	c0 := ps.snapshot()
	t0 := time.Now()
	snap, err := r.Backup(ctx, opts)
	if err != nil || snap.Status != StatusOK {
		t.Fatalf("backup: %v %+v", err, snap)
	}
	wall := time.Since(t0)
	c1 := ps.snapshot().sub(c0)
	msgs := snap.Totals.Items
	per := func(v int64) float64 { return float64(v) * 1000 / float64(msgs) }
	t.Logf("MEASURE mailputs: %d users, %d messages, %d B, into %s in %v", len(us), msgs, snap.Totals.Bytes, ps, wall.Round(time.Millisecond))
	t.Logf("MEASURE mailputs: full run: %s", c1)
	t.Logf("MEASURE mailputs: %.2f PUTs per 1,000 messages (data %.2f, index %.2f, checkpoints %.2f, leases %.2f, snapshots %.2f); all requests %.2f per 1,000",
		per(c1.Counts.Puts), per(c1.Puts["data"]), per(c1.Puts["index"]), per(c1.Puts["checkpoints"]), per(c1.Puts["leases"]), per(c1.Puts["snapshots"]), per(c1.Counts.Requests()))
	t2 := time.Now()
	if s, err := r.Backup(ctx, opts); err != nil || s.Status != StatusOK {
		t.Fatalf("no-change backup: %v", err)
	}
	t.Logf("MEASURE mailputs: no-change run in %v: %s", time.Since(t2).Round(time.Millisecond), ps.snapshot().sub(c0).sub(c1))
}

// TestMeasureGenerateHistory writes a synthetic history into the (empty or
// missing) fs repository Y360_HISTORY_DIR through the engine: a first run
// over Y360_HISTORY_USERS users (default 1,000; 2 folders of 10 messages
// each), then Y360_HISTORY_SNAPSHOTS-1 further runs (default 1,000 in all),
// each backing up Y360_HISTORY_PER_RUN users (default 5, rotating) that got
// one new message; the other users are carried forward, as in a daemon's
// runs of part of the organization. Every 100th run is a full run over
// every user. The result is an ordinary repository the CLI reads.
func TestMeasureGenerateHistory(t *testing.T) {
	measureGate(t, "history", false)
	dir := os.Getenv("Y360_HISTORY_DIR")
	if dir == "" {
		t.Fatal("set Y360_HISTORY_DIR to an empty folder")
	}
	nu := envInt("Y360_HISTORY_USERS", 1000)
	ns := envInt("Y360_HISTORY_SNAPSHOTS", 1000)
	per := envInt("Y360_HISTORY_PER_RUN", 5)
	ctx := context.Background()
	r, err := OpenOrInit(ctx, measureFSSink(t, dir), RepoOptions{SpoolDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ss, _ := r.Snapshots(ctx); len(ss) > 0 {
		t.Fatalf("%s already holds %d snapshots", dir, len(ss))
	}
	us := synthUsers(nu)
	src := &synthSource{folders: map[string]map[string]int{}, bodySize: 1500}
	for _, u := range us {
		src.folders[u.Email] = map[string]int{"INBOX": 10, "Sent": 10}
	}
	t0 := time.Now()
	next := 0
	for run := 0; run < ns; run++ {
		opts := RunOptions{Users: us, Sources: []sources.Source{src}, Tokens: noTokens}
		if run%100 != 0 {
			for k := 0; k < per; k++ {
				u := us[next%nu]
				next++
				src.folders[u.Email]["INBOX"]++
				opts.Only = append(opts.Only, u.Email)
			}
		}
		s, err := r.Backup(ctx, opts)
		if err != nil || s.Status != StatusOK {
			t.Fatalf("run %d: %v", run, err)
		}
		if run%100 == 0 || run == ns-1 {
			t.Logf("history: run %d/%d (%s) at %v", run+1, ns, s.Key, time.Since(t0).Round(time.Second))
		}
	}
	t.Logf("MEASURE history: %d snapshots of %d users written into %s in %v", ns, nu, dir, time.Since(t0).Round(time.Second))
}

// TestMeasureCompression compresses the message files under
// Y360_MEASURE_CORPUS (the shared bench's ROOT/mail, LF line endings turned
// into the CRLF an IMAP server sends) blob by blob as the repository does,
// with its encoder settings and with stronger levels, and reports the
// stored/raw ratio and speed of each: what the repository-size target
// (≤ 0.7 × corpus) can expect from compression alone.
func TestMeasureCompression(t *testing.T) {
	measureGate(t, "compress", false)
	dir := os.Getenv("Y360_MEASURE_CORPUS")
	if dir == "" {
		t.Fatal("set Y360_MEASURE_CORPUS to the bench corpus's mail folder")
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(p, "/cur/") || strings.Contains(p, "/new/")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if max := envInt("Y360_MEASURE_FILES", 0); max > 0 && len(files) > max {
		step := len(files) / max
		var sample []string
		for i := 0; i < len(files); i += step {
			sample = append(sample, files[i])
		}
		files = sample
	}
	type variant struct {
		name string
		opts []zstd.EOption
		b64  bool // b64lines before zstd (the Data64 blob type)
	}
	base := []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(4 << 20), zstd.WithAllLitEntropyCompression(true)}
	variants := []variant{
		{"fastest+alllit", append(base[:3:3], zstd.WithEncoderLevel(zstd.SpeedFastest)), false},
		{"b64lines+fastest (repository)", append(base[:3:3], zstd.WithEncoderLevel(zstd.SpeedFastest)), true},
		{"b64lines+fastest window 1 MiB", []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1 << 20), zstd.WithAllLitEntropyCompression(true), zstd.WithEncoderLevel(zstd.SpeedFastest)}, true},
		{"default+alllit", append(base[:3:3], zstd.WithEncoderLevel(zstd.SpeedDefault)), false},
	}
	for _, v := range variants {
		e, err := zstd.NewWriter(nil, v.opts...)
		if err != nil {
			t.Fatal(err)
		}
		var raw, stored int64
		var dur time.Duration
		var out []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
			t0 := time.Now()
			if v.b64 {
				var tb bytes.Buffer
				w := b64lines.NewWriter(&tb)
				w.Write(b)
				w.Close()
				out = e.EncodeAll(tb.Bytes(), out[:0])
				stored += int64(len(out))
			} else if len(b) <= chunkMin {
				out = e.EncodeAll(b, out[:0])
				stored += int64(len(out))
			} else {
				for off := 0; off < len(b); off += 1 << 20 { // chunks average ~1 MiB
					out = e.EncodeAll(b[off:min(off+1<<20, len(b))], out[:0])
					stored += int64(len(out))
				}
			}
			dur += time.Since(t0)
			raw += int64(len(b))
		}
		t.Logf("MEASURE compress: %-28s %d files, %d B raw (CRLF) -> %d B = %.4f, %.0f MB/s on one core",
			v.name, len(files), raw, stored, float64(stored)/float64(raw), float64(raw)/dur.Seconds()/1e6)
	}
}
