package backup

import (
	"strings"
	"testing"
)

func TestContainerKeyRoundTrip(t *testing.T) {
	for _, name := range []string{"INBOX", "Проекты|Сервер", "a/b/../c", "", "x\x00y", strings.Repeat("я", 30), "events-default"} {
		k := containerKey(name)
		if containerKey(name) != k || (name != "" && containerKey(name+"x") == k) {
			t.Errorf("containerKey(%q) = %q is not stable and distinct", name, k)
		}
		if strings.ContainsAny(k, "/.\\ ") || k != strings.ToLower(k) {
			t.Errorf("key %q for %q is not a safe lowercase segment", k, name)
		}
	}
	long := strings.Repeat("папка ", 40)
	if k := containerKey(long); !strings.HasPrefix(k, "h") || len(k) != 65 {
		t.Errorf("long name key %q", k)
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

func TestReplayRejectsBadRecords(t *testing.T) {
	st := newContainerState("x")
	for _, rec := range []record{{T: "put", ID: "1", Hash: "nothex"}, {T: "put", Hash: strings.Repeat("a", 64)}, {T: "bogus"}} {
		if err := st.apply(rec); err == nil {
			t.Errorf("apply(%+v) accepted", rec)
		}
	}
}
