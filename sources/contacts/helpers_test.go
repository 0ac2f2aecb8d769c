package contacts_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	engine "github.com/y360backup/y360backup/backup"
	"github.com/y360backup/y360backup/sinks"
	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sources"
)

func user(email string) sources.User {
	return sources.User{ID: "uid-" + email, Email: email, Enabled: true}
}

// card is a plain vCard 3.0 as Yandex serves them.
func card(uid, name string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:" + name + "\r\nN:" + name + ";;;;\r\n" +
		"EMAIL;TYPE=INTERNET:" + strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.org\r\nEND:VCARD\r\n"
}

// oddCard has quoted-printable Cyrillic, a folded line, escaped commas and
// semicolons, an X- property and a small inline PHOTO.
func oddCard(uid string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\n" +
		"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=98=D0=B2=D0=B0=D0=BD =D0=9F=D0=B5=D1=82=D1=80=D0=BE=D0=B2\r\n" +
		"N:Петров;Иван;;;\r\nORG:ООО \"Ромашка\"\\, отдел;Продажи\\;опт\r\n" +
		"NOTE:Очень длинная заметка\\, которая не помещается в одну строку и потому \r\n  сложена по правилам RFC 6350\r\n" +
		"X-YANDEX-FIELD:значение\r\nTEL;TYPE=CELL:+7 900 000-00-00\r\n" +
		"PHOTO;ENCODING=b;TYPE=JPEG:" + base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0 not really a jpeg")) + "\r\n" +
		"END:VCARD\r\n"
}

// bigCard is a contact of about size bytes, almost all of it a PHOTO
// folded at 75 octets as vCard writers do.
func bigCard(uid string, size int) string {
	raw := make([]byte, size*3/4)
	rand.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:" + uid + "\r\nFN:Big Photo\r\nN:Photo;Big;;;\r\nPHOTO;ENCODING=b;TYPE=JPEG:")
	for len(enc) > 0 {
		n := min(74, len(enc))
		b.WriteString(enc[:n])
		enc = enc[n:]
		if len(enc) > 0 {
			b.WriteString("\r\n ")
		}
	}
	b.WriteString("\r\nEND:VCARD\r\n")
	return b.String()
}

// counter counts requests per method through a transport.
type counter struct {
	mu   sync.Mutex
	by   map[string]int
	hook func(*http.Request) (*http.Response, error)
}

func newCounter() *counter { return &counter{by: map[string]int{}} }

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.by[r.Method]++
	hook := c.hook
	c.mu.Unlock()
	if hook != nil {
		if resp, err := hook(r); resp != nil || err != nil {
			return resp, err
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// reset returns the counts so far and clears them.
func (c *counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	by := c.by
	c.by = map[string]int{}
	return by
}

func newRepo(t *testing.T) *engine.Repository {
	t.Helper()
	sc := fssink.NewConfig()
	sc.Path = t.TempDir()
	sink, err := fssink.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	return openRepo(t, sink)
}

func openRepo(t *testing.T, sink sinks.Sink) *engine.Repository {
	t.Helper()
	r, err := engine.OpenOrInit(context.Background(), sink, engine.RepoOptions{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type lister []sources.User

func (l lister) ListUsers(ctx context.Context, fn func(sources.User) error) error {
	for _, u := range l {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

// backupRun backs u up through the engine and insists on a clean snapshot.
func backupRun(t *testing.T, repo *engine.Repository, src sources.Source, u sources.User, tokens func(sources.User) sources.TokenSource) *engine.Snapshot {
	t.Helper()
	snap, err := repo.Backup(context.Background(), engine.RunOptions{Users: lister{u}, Sources: []sources.Source{src}, Tokens: tokens, Concurrency: 1})
	if err != nil {
		t.Fatalf("backup %s: %v", u.Email, err)
	}
	if snap.Status != engine.StatusOK {
		for _, us := range snap.Users {
			for name, ss := range us.Sources {
				t.Logf("%s %s: %s %s failures %v", us.Email, name, ss.Status, ss.Error, ss.Failures)
			}
		}
		t.Fatalf("backup %s: snapshot status %s", u.Email, snap.Status)
	}
	return snap
}

// stored returns the items of one container of snap with their bytes.
func stored(t *testing.T, repo *engine.Repository, snap *engine.Snapshot, book string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := repo.Select(context.Background(), snap, engine.Selection{Sources: []string{"contacts"}, Containers: []string{book}}, func(sc engine.SelectedContainer) error {
		for _, it := range sc.Items {
			rc, err := repo.OpenObject(context.Background(), it.Hash)
			if err != nil {
				return err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			out[it.ID] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSet(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d cards, want %d", what, len(got), len(want))
	}
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("%s: %s missing", what, id)
		} else if !bytes.Equal(g, w) {
			t.Errorf("%s: %s differs (%d bytes, want %d)", what, id, len(g), len(w))
		}
	}
}
