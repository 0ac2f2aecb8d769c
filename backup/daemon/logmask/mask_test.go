package logmask_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/y360backup/y360backup/backup/daemon/logmask"
)

var m = logmask.New([]byte("operator secret"))

// pseudo matches a masked address: first letter, 10 hex digits, domain.
var pseudo = regexp.MustCompile(`^(.)\[[0-9a-f]{10}\](@|%40)(.+)$`)

func TestEmailPseudonym(t *testing.T) {
	tests := []struct{ in, letter, domain string }{
		{"alice@example.com", "a", "example.com"},
		{"Bob.Builder+tag@sub.corp.example", "B", "sub.corp.example"},
		{"иван@пример.рф", "и", "пример.рф"},
	}
	for _, tt := range tests {
		got := m.Email(tt.in)
		sm := pseudo.FindStringSubmatch(got)
		if sm == nil || sm[1] != tt.letter || sm[3] != tt.domain {
			t.Errorf("Email(%q) = %q, want %s[hash]@%s", tt.in, got, tt.letter, tt.domain)
		}
		if again := m.Email(tt.in); again != got {
			t.Errorf("Email(%q) not stable: %q then %q", tt.in, got, again)
		}
	}
	for _, in := range []string{"not an address", "alice@localhost"} { // no dot: not an address
		if got := m.Email(in); got != in {
			t.Errorf("Email(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestPseudonymsTellUsersApart(t *testing.T) {
	alice, anna := m.Email("alice@example.com"), m.Email("anna@example.com")
	if alice == anna {
		t.Errorf("alice and anna share the pseudonym %q", alice)
	}
	if got := m.Email("Alice@Example.com"); strings.ToLower(got) != alice { // the hash ignores case
		t.Errorf("case changes the pseudonym: %q vs %q", got, alice)
	}
	// Another process with the same key (the next run) gives the same name.
	if got := logmask.New([]byte("operator secret")).Email("alice@example.com"); got != alice {
		t.Errorf("same key, different pseudonym: %q vs %q", got, alice)
	}
}

// Without the key, hashing a dictionary of addresses does not find alice:
// neither the unkeyed hash nor another key gives her pseudonym.
func TestPseudonymNeedsTheKey(t *testing.T) {
	alice := m.Email("alice@example.com")
	for _, key := range []string{"", "guess", "operator secreT"} {
		if got := logmask.New([]byte(key)).Email("alice@example.com"); got == alice {
			t.Errorf("key %q reproduces alice's pseudonym %q", key, alice)
		}
	}
	sum := sha256.Sum256([]byte("alice@example.com"))
	if strings.Contains(alice, hex.EncodeToString(sum[:5])) {
		t.Errorf("pseudonym %q is the plain SHA-256 of the address", alice)
	}
}

func TestMaskText(t *testing.T) {
	in := "calendar: user alice@example.com: PROPFIND /calendars/alice%40example.com/: 403; cc bob@example.com"
	a, b := m.Email("alice@example.com"), m.Email("bob@example.com")
	aPct := strings.Replace(a, "@", "%40", 1)
	want := "calendar: user " + a + ": PROPFIND /calendars/" + aPct + "/: 403; cc " + b
	got := m.Text(in)
	if got != want {
		t.Errorf("Text:\n got %q\nwant %q", got, want)
	}
	if again := m.Text(got); again != got {
		t.Errorf("masking twice changes the text:\n%q\n%q", got, again)
	}
}

type user struct {
	Email string `json:"email"`
}

func (u user) String() string { return "user " + u.Email }

func TestCoreMasksEverything(t *testing.T) {
	var buf bytes.Buffer
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := zapcore.NewCore(enc, zapcore.AddSync(&buf), zapcore.DebugLevel)
	log := zap.New(core, m.Option()).With(zap.String("owner", "carol@example.com"))
	log.Info("backing up dave@example.com",
		zap.String("user", "alice@example.com"),
		zap.Error(errors.New("imap: login bob@example.com refused")),
		zap.Strings("users", []string{"eve@example.com", "frank@example.com"}),
		zap.Stringer("who", user{"grace@example.com"}),
		zap.Any("obj", user{"heidi@example.com"}),
		zap.ByteString("raw", []byte("ivan@example.com")),
		zap.Int("n", 3),
	)
	log.Debug("debug too", zap.String("user", "judy@example.com"))
	out := buf.String()
	for _, name := range []string{"alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy"} {
		if strings.Contains(out, name+"@") {
			t.Errorf("%s's address leaked:\n%s", name, out)
		}
		if !strings.Contains(out, m.Email(name+"@example.com")) {
			t.Errorf("%s's masked address missing:\n%s", name, out)
		}
	}
	if !strings.Contains(out, `"n":3`) {
		t.Errorf("non-string fields must pass unchanged:\n%s", out)
	}
}

func TestCoreRespectsLevel(t *testing.T) {
	var buf bytes.Buffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.InfoLevel)
	zap.New(core, m.Option()).Debug("hidden alice@example.com")
	if buf.Len() != 0 {
		t.Errorf("a debug entry passed an info core: %s", buf.String())
	}
}
