package y360emu

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"sync"
)

// CardDAV as carddav.yandex.ru serves it, as far as public sources tell
// (abugrin/Yandex360Tools carddav.py, bizyumov/yandex-office probe): Basic
// auth with the email and the exchanged token (OAuth header accepted too),
// scope addressbook:all (401 without it), home /addressbook/{email}/ with
// book 1/ (personal) and 2/ (shared), vCard 3.0 items {uuid}.vcf, getctag on
// books, and GET <book>/?op=ls answering {"list":[{"fileName","etag"}]}.
// Unknown, so not served: sync-collection, addressbook-multiget, principal
// discovery. Books are created by MKCOL (unconfirmed on Yandex).

// ContactsScope is the scope the emulator's CardDAV requires.
const ContactsScope = "addressbook:all"

// Yandex's two books and the display names the emulator gives them.
const (
	ContactsPersonal = "1"
	ContactsShared   = "2"
)

type contactsState struct {
	mu    sync.Mutex
	users map[string]map[string]*cardBook // lower email → book name → book
}

type cardBook struct {
	display string
	ctag    int
	cards   map[string]*vcard
}

type vcard struct {
	data []byte
	etag string // quoted
}

func (s *Server) contacts() *contactsState {
	return s.extension("contacts", func() any { return &contactsState{users: map[string]map[string]*cardBook{}} }).(*contactsState)
}

// booksLocked returns (creating with the two Yandex books) a user's books.
func (cs *contactsState) booksLocked(email string) map[string]*cardBook {
	k := lower(email)
	bs := cs.users[k]
	if bs == nil {
		bs = map[string]*cardBook{
			ContactsPersonal: {display: "Личные контакты", cards: map[string]*vcard{}},
			ContactsShared:   {display: "Общие контакты", cards: map[string]*vcard{}},
		}
		cs.users[k] = bs
	}
	return bs
}

func cardETag(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// ContactsPut stores data verbatim as email's card book/name (the book
// must exist) and returns its etag.
func (s *Server) ContactsPut(email, book, name string, data []byte) (string, error) {
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	b := cs.booksLocked(email)[book]
	if b == nil {
		return "", errors.New("y360emu: no address book " + book + " for " + email)
	}
	c := &vcard{data: slices.Clone(data), etag: cardETag(data)}
	b.cards[name] = c
	b.ctag++
	return c.etag, nil
}

// ContactsDelete removes one card ("" name = every card of the book).
func (s *Server) ContactsDelete(email, book, name string) {
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if b := cs.booksLocked(email)[book]; b != nil {
		if name == "" {
			clear(b.cards)
		} else {
			delete(b.cards, name)
		}
		b.ctag++
	}
}

// ContactsBook returns a copy of a book's cards by name (nil if no book).
func (s *Server) ContactsBook(email, book string) map[string][]byte {
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	b := cs.booksLocked(email)[book]
	if b == nil {
		return nil
	}
	out := make(map[string][]byte, len(b.cards))
	for n, c := range b.cards {
		out[n] = slices.Clone(c.data)
	}
	return out
}

// ContactsBooks lists a user's book names, sorted.
func (s *Server) ContactsBooks(email string) []string {
	cs := s.contacts()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Sorted(maps.Keys(cs.booksLocked(email)))
}

// SeedDemoContacts gives a user a few personal contacts (Cyrillic names, a
// quoted-printable field, a photo) and one shared contact.
func (s *Server) SeedDemoContacts(email string) error {
	for _, c := range DemoContacts() {
		if _, err := s.ContactsPut(email, c.Book, c.Name, []byte(c.VCF)); err != nil {
			return err
		}
	}
	return nil
}

// DemoContact is one seeded card.
type DemoContact struct{ Book, Name, VCF string }

// DemoContacts are the cards SeedDemoContacts writes.
func DemoContacts() []DemoContact {
	return []DemoContact{
		{ContactsPersonal, "0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0001.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0001\r\n" +
			"FN:Анна Смирнова\r\nN:Смирнова;Анна;;;\r\nEMAIL;TYPE=INTERNET:anna@example.org\r\nTEL;TYPE=CELL:+7 900 123-45-67\r\nEND:VCARD\r\n"},
		{ContactsPersonal, "0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0002.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0002\r\n" +
			"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=9F=D1=91=D1=82=D1=80 =D0=98=D0=B2=D0=B0=D0=BD=D0=BE=D0=B2\r\nN:Иванов;Пётр;;;\r\n" +
			"ORG:ООО \"Ромашка\"\\, отдел;Продажи\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\r\n" +
			" +M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\nEND:VCARD\r\n"},
		{ContactsShared, "0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0003.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0003\r\n" +
			"FN:Reception desk\r\nN:desk;Reception;;;\r\nTEL;TYPE=WORK:+7 495 000-00-00\r\nEND:VCARD\r\n"},
	}
}
