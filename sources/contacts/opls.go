package contacts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/y360backup/y360backup/sources/internal/dav"
)

// listOpLs lists a book with Yandex's non-standard GET <book>/?op=ls, which
// answers {"list":[{"fileName":"<uuid>.vcf","etag":"..."}]} (seen in
// Yandex's carddav.py). The answer is decoded one entry at a time.
func (s *session) listOpLs(ctx context.Context, b book) (map[string]dav.Member, error) {
	resp, err := s.dav.Do(ctx, http.MethodGet, dav.EscapePath(b.Path)+"?op=ls", "", nil)
	if err != nil {
		return nil, fmt.Errorf("list %s (?op=ls): %w", b.Name, err)
	}
	defer resp.Body.Close()
	listed := map[string]dav.Member{}
	err = decodeOpLs(resp.Body, func(name, etag string) error {
		if err := checkFileName(name); err != nil {
			return err
		}
		if _, dup := listed[name]; dup {
			return fmt.Errorf("fileName %q listed twice", name)
		}
		listed[name] = dav.Member{ID: name, Href: dav.EscapePath(b.Path + name), ETag: etag}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("contacts: list %s (?op=ls): %w", b.Name, err)
	}
	return listed, nil
}

// opLsEntry is one element of the "list" array.
type opLsEntry struct {
	FileName *string `json:"fileName"`
	ETag     string  `json:"etag"`
}

// decodeOpLs streams the ?op=ls JSON into fn. Unknown fields are ignored;
// a missing or malformed "list", an entry without fileName or trailing
// garbage is an error naming what was wrong (the whole listing is then
// distrusted: deleting items because of a half-read list would lose data).
func decodeOpLs(r io.Reader, fn func(name, etag string) error) error {
	d := json.NewDecoder(r)
	if err := expectDelim(d, '{'); err != nil {
		return fmt.Errorf("want a JSON object: %w", err)
	}
	found := false
	for d.More() {
		key, err := d.Token()
		if err != nil {
			return fmt.Errorf("bad JSON: %w", err)
		}
		if key != "list" {
			var skip json.RawMessage
			if err := d.Decode(&skip); err != nil {
				return fmt.Errorf("bad JSON in %q: %w", key, err)
			}
			continue
		}
		found = true
		if err := decodeList(d, fn); err != nil {
			return err
		}
	}
	if err := expectDelim(d, '}'); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("bad JSON: data after the object")
	}
	if !found {
		return errors.New(`no "list" in the answer`)
	}
	return nil
}

func decodeList(d *json.Decoder, fn func(name, etag string) error) error {
	if err := expectDelim(d, '['); err != nil {
		return fmt.Errorf(`"list" is not an array: %w`, err)
	}
	for i := 0; d.More(); i++ {
		var e opLsEntry
		if err := d.Decode(&e); err != nil {
			return fmt.Errorf("list[%d]: %w", i, err)
		}
		if e.FileName == nil {
			return fmt.Errorf("list[%d]: no fileName", i)
		}
		if err := fn(*e.FileName, e.ETag); err != nil {
			return fmt.Errorf("list[%d]: %w", i, err)
		}
	}
	return expectDelim(d, ']')
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != want {
		return fmt.Errorf("got %v, want %q", tok, want)
	}
	return nil
}

// checkFileName refuses names that would not address one object inside the
// book: empty, ".", "..", or with a slash, backslash or control character.
func checkFileName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) ||
		strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("unusable fileName %q (empty, a path, or control characters)", name)
	}
	return nil
}
