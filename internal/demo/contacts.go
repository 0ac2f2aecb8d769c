package demo

import (
	"bytes"
	"strings"

	"github.com/y360backup/y360backup/internal/y360emu"
)

// restoredBook finds the address book a non-destructive restore created
// ("restored-…", next to Yandex's 1 and 2) holding n cards.
func (w *world) restoredBook(who string, n int) (string, map[string][]byte) {
	for _, b := range w.emu.ContactsBooks(who) {
		if b == y360emu.ContactsPersonal || b == y360emu.ContactsShared || !strings.HasPrefix(b, "restored-") {
			continue
		}
		if cards := w.emu.ContactsBook(who, b); len(cards) == n {
			return b, cards
		}
	}
	return "", nil
}

// sameCards reports whether got holds want's cards under the same names,
// byte for byte.
func sameCards(got, want map[string][]byte) bool {
	if len(got) != len(want) || len(want) == 0 {
		return false
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			return false
		}
	}
	return true
}

// changeContacts adds a personal contact for the incremental run.
func (w *world) changeContacts(email string) error {
	_, err := w.emu.ContactsPut(email, y360emu.ContactsPersonal, "0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0099.vcf", []byte(
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:0b1e7c52-5d3b-4c0e-9a57-2f6a7d1e0099\r\nFN:Новый Контакт\r\nN:Контакт;Новый;;;\r\nEND:VCARD\r\n"))
	return err
}
