package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sources"
)

// Segment kinds, encoded in the segment's file name so that listing alone
// tells where replay must start and whether a container is gone.
const (
	segDelta = ""
	segBase  = "b"
	segGone  = "g"
)

// record is one line of a segment.
type record struct {
	T         string          `json:"t"` // hdr, put, meta, del, reset, cur
	ID        string          `json:"id,omitempty"`
	Hash      string          `json:"hash,omitempty"`
	Size      int64           `json:"size,omitempty"`
	Meta      json.RawMessage `json:"meta,omitempty"`
	Cursor    json.RawMessage `json:"cursor,omitempty"`
	Container string          `json:"container,omitempty"` // hdr: the container's real name
	Run       string          `json:"run,omitempty"`       // hdr
	Time      *time.Time      `json:"time,omitempty"`      // hdr
	V         int             `json:"v,omitempty"`         // hdr: format version
}

// segment names one index segment.
type segment struct {
	Seq  uint64
	Kind string
	Key  string
}

var b32 = base32.HexEncoding.WithPadding(base32.NoPadding)

// containerKey maps a container name (any Unicode, any length, possibly
// hostile) to one safe key segment. Short names are encoded reversibly
// ("n" + lowercase base32hex) so listing reveals them without a read;
// long ones are hashed ("h" + SHA-256) and the name is read from a header.
func containerKey(name string) string {
	if len(name) <= 120 {
		return "n" + strings.ToLower(b32.EncodeToString([]byte(name)))
	}
	return "h" + sha256hex([]byte(name))
}

// containerNameFromKey decodes an "n" key; ok is false for hashed keys.
func containerNameFromKey(k string) (string, bool) {
	if !strings.HasPrefix(k, "n") {
		return "", false
	}
	b, err := b32.DecodeString(strings.ToUpper(k[1:]))
	if err != nil {
		return "", false
	}
	return string(b), true
}

var safeSeg = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// userKey maps a Yandex uid to a key segment; uids are decimal strings, but a
// hostile or odd one is hashed rather than trusted.
func userKey(uid string) string {
	if safeSeg.MatchString(uid) {
		return uid
	}
	return "h" + sha256hex([]byte(uid))[:32]
}

func indexPrefix(uid, source string) string {
	return "index/" + userKey(uid) + "/" + source + "/"
}

func segmentKey(prefix, ckey string, seq uint64, kind string) string {
	name := fmt.Sprintf("%010d", seq)
	if kind != segDelta {
		name += "." + kind
	}
	return prefix + ckey + "/" + name + ".jsonl.zst"
}

// parseSegmentName parses "<seq>[.<kind>].jsonl.zst".
func parseSegmentName(name string) (seq uint64, kind string, ok bool) {
	base, found := strings.CutSuffix(name, ".jsonl.zst")
	if !found {
		return 0, "", false
	}
	num, kind, _ := strings.Cut(base, ".")
	if kind != segDelta && kind != segBase && kind != segGone {
		return 0, "", false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	return seq, kind, err == nil
}

// listChains lists all segments under prefix, grouped by container key and
// sorted by seq: one List call per (user, source).
func listChains(ctx context.Context, sink sinks.Sink, prefix string) (map[string][]segment, error) {
	chains := map[string][]segment{}
	err := sink.List(ctx, prefix, func(oi sinks.ObjectInfo) error {
		rest := strings.TrimPrefix(oi.Key, prefix)
		ckey, name, ok := strings.Cut(rest, "/")
		if !ok { // listing inside one container: the name is the rest
			ckey, name = "", rest
		}
		seq, kind, ok := parseSegmentName(name)
		if !ok {
			return nil // not ours; ignore rather than fail the run
		}
		chains[ckey] = append(chains[ckey], segment{Seq: seq, Kind: kind, Key: oi.Key})
		return nil
	})
	for _, c := range chains {
		sort.Slice(c, func(i, j int) bool { return c[i].Seq < c[j].Seq })
	}
	return chains, err
}

// listChain lists one container's segments.
func listChain(ctx context.Context, sink sinks.Sink, prefix, ckey string) ([]segment, error) {
	chains, err := listChains(ctx, sink, prefix+ckey+"/")
	return chains[""], err
}

// chainUpTo returns the segments of chain to replay for state as of head
// (inclusive): from the latest base or gone segment at or before head.
func chainUpTo(chain []segment, head uint64) []segment {
	end := sort.Search(len(chain), func(i int) bool { return chain[i].Seq > head })
	chain = chain[:end]
	start := 0
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].Kind != segDelta {
			start = i
			break
		}
	}
	return chain[start:]
}

// containerState is a container's replayed state.
type containerState struct {
	Name      string
	Items     map[string]sources.Item
	Cursor    json.RawMessage
	Gone      bool
	Head      uint64 // seq of the last segment applied (0 = none)
	SinceBase int    // delta segments since the last base
}

func newContainerState(name string) *containerState {
	return &containerState{Name: name, Items: map[string]sources.Item{}}
}

// apply replays one record.
func (s *containerState) apply(r record) error {
	switch r.T {
	case "hdr":
		if r.Container != "" {
			s.Name = r.Container
		}
	case "put":
		if r.ID == "" || !validHash(r.Hash) {
			return fmt.Errorf("put record with bad id %q or hash %q", r.ID, r.Hash)
		}
		s.Items[r.ID] = sources.Item{ID: r.ID, Hash: r.Hash, Size: r.Size, Meta: r.Meta}
	case "meta":
		if it, ok := s.Items[r.ID]; ok {
			it.Meta = r.Meta
			s.Items[r.ID] = it
		}
	case "del":
		delete(s.Items, r.ID)
	case "reset":
		s.Items = map[string]sources.Item{}
	case "cur":
		s.Cursor = r.Cursor
	default:
		return fmt.Errorf("unknown record type %q", r.T)
	}
	return nil
}

// loadState replays segs into a fresh state. A segment that cannot be read or
// parsed is an error naming it: state is never silently guessed.
func (r *Repository) loadState(ctx context.Context, name string, segs []segment) (*containerState, error) {
	st := newContainerState(name)
	for _, sg := range segs {
		switch sg.Kind {
		case segBase, segGone:
			st.Items = map[string]sources.Item{}
			st.Cursor = nil
			st.SinceBase = 0
			st.Gone = sg.Kind == segGone
		default:
			st.SinceBase++
			st.Gone = false
		}
		if err := r.replaySegment(ctx, sg.Key, st); err != nil {
			return nil, err
		}
		st.Head = sg.Seq
	}
	return st, nil
}

func (r *Repository) replaySegment(ctx context.Context, key string, st *containerState) error {
	rc, err := r.getCompressed(ctx, key)
	if err != nil {
		return fmt.Errorf("index segment %s: %w", key, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return fmt.Errorf("index segment %s line %d: %w", key, line, err)
		}
		if err := st.apply(rec); err != nil {
			return fmt.Errorf("index segment %s line %d: %w", key, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("index segment %s: %w", key, err)
	}
	return nil
}

// encodeSegment renders records as JSON lines.
func encodeSegment(recs []record) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, rec := range recs {
		if err := enc.Encode(rec); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
