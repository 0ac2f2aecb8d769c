package backup

import (
	"strings"
	"testing"
)

func TestContainerKeyRoundTrip(t *testing.T) {
	for _, name := range []string{"INBOX", "Проекты|Сервер", "a/b/../c", "", "x\x00y", strings.Repeat("я", 30), "events-default"} {
		k := containerKey(name)
		got, ok := containerNameFromKey(k)
		if !ok || got != name {
			t.Errorf("containerKey(%q) = %q decodes to %q, %v", name, k, got, ok)
		}
		if strings.ContainsAny(k, "/.\\ ") || k != strings.ToLower(k) {
			t.Errorf("key %q for %q is not a safe lowercase segment", k, name)
		}
	}
	long := strings.Repeat("папка ", 40)
	if k := containerKey(long); !strings.HasPrefix(k, "h") || len(k) != 65 {
		t.Errorf("long name key %q", k)
	}
	if _, ok := containerNameFromKey(containerKey(long)); ok {
		t.Error("a hashed key must not decode")
	}
}

func TestUserKey(t *testing.T) {
	tests := map[string]string{"1130000018743049": "1130000018743049", "abc_DEF-1": "abc_DEF-1"}
	for in, want := range tests {
		if got := userKey(in); got != want {
			t.Errorf("userKey(%q) = %q", in, got)
		}
	}
	for _, hostile := range []string{"../x", "a/b", "", strings.Repeat("1", 65), "x y"} {
		if got := userKey(hostile); !strings.HasPrefix(got, "h") || strings.ContainsAny(got, "/. ") {
			t.Errorf("userKey(%q) = %q, want a hash", hostile, got)
		}
	}
}

func TestSegmentNames(t *testing.T) {
	tests := []struct {
		name string
		seq  uint64
		kind string
		ok   bool
	}{
		{"0000000001.jsonl.zst", 1, segDelta, true},
		{"0000000017.b.jsonl.zst", 17, segBase, true},
		{"0000000018.g.jsonl.zst", 18, segGone, true},
		{"0000000018.x.jsonl.zst", 0, "", false},
		{"garbage", 0, "", false},
		{"12ab.jsonl.zst", 0, "", false},
	}
	for _, tt := range tests {
		seq, kind, ok := parseSegmentName(tt.name)
		if ok != tt.ok || (ok && (seq != tt.seq || kind != tt.kind)) {
			t.Errorf("%s: %d %q %v", tt.name, seq, kind, ok)
		}
		if tt.ok {
			if got := segmentKey("p/", "c", tt.seq, tt.kind); got != "p/c/"+tt.name {
				t.Errorf("segmentKey = %s, want p/c/%s", got, tt.name)
			}
		}
	}
}

func TestChainUpTo(t *testing.T) {
	chain := []segment{{1, segBase, "1"}, {2, segDelta, "2"}, {3, segBase, "3"}, {4, segDelta, "4"}, {5, segGone, "5"}, {6, segBase, "6"}}
	keys := func(s []segment) string {
		var out []string
		for _, x := range s {
			out = append(out, x.Key)
		}
		return strings.Join(out, ",")
	}
	for head, want := range map[uint64]string{1: "1", 2: "1,2", 4: "3,4", 5: "5", 6: "6"} {
		if got := keys(chainUpTo(chain, head)); got != want {
			t.Errorf("chainUpTo(%d) = %s, want %s", head, got, want)
		}
	}
}

func TestReplayRejectsBadRecords(t *testing.T) {
	st := newContainerState("x")
	for _, rec := range []record{{T: "put", ID: "1", Hash: "nothex"}, {T: "put", Hash: strings.Repeat("a", 64)}, {T: "bogus"}} {
		if err := st.apply(rec); err == nil {
			t.Errorf("apply(%+v) accepted", rec)
		}
	}
}
