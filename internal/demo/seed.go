package demo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Folders the demo fills besides INBOX (Yandex uses "|" as the delimiter).
const (
	folderSent     = "Отправленные"
	folderProjects = "Проекты|Сервер"
)

var subjects = []string{"Квартальный отчёт", "Re: план релиза", "Invoice #%d", "Встреча в пятницу", "Fwd: логи сервера", "Weekly digest"}

// message renders a plausible message; every fifth has a base64 attachment.
func message(r *rand.Rand, from, to string, i int) []byte {
	var b bytes.Buffer
	subj := fmt.Sprintf(subjects[i%len(subjects)], i)
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-Id: <%d.%d@demo.y360.test>\r\nMIME-Version: 1.0\r\n",
		from, to, subj, time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour).Format(time.RFC1123Z), r.Uint64(), i)
	text := strings.Repeat("Съешь же ещё этих мягких французских булок, да выпей чаю. ", 5+r.IntN(60))
	if i%5 != 0 {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", text)
		return b.Bytes()
	}
	att := make([]byte, 20_000+r.IntN(200_000))
	for j := range att {
		att[j] = byte(r.IntN(256))
	}
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b%d\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data-%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		i, i, text, i, i)
	writeBase64(&b, att)
	fmt.Fprintf(&b, "--b%d--\r\n", i)
	return b.Bytes()
}

func writeBase64(b *bytes.Buffer, data []byte) {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	line := 0
	for i := 0; i+3 <= len(data); i += 3 {
		n := uint(data[i])<<16 | uint(data[i+1])<<8 | uint(data[i+2])
		b.WriteByte(enc[n>>18&63])
		b.WriteByte(enc[n>>12&63])
		b.WriteByte(enc[n>>6&63])
		b.WriteByte(enc[n&63])
		if line += 4; line >= 76 {
			b.WriteString("\r\n")
			line = 0
		}
	}
	b.WriteString("\r\n")
}

// malformed is stored verbatim: broken MIME, a NUL and invalid UTF-8.
var malformed = []byte("Subject: =?broken?Q?\r\nContent-Type: multipart/mixed; boundary=\"never-closed\"\r\n\r\n--never-closed\r\n\x00\xff\xfe not UTF-8\r\n")

func (w *world) append(email, folder string, msg []byte, flags []imap.Flag) error {
	uid, err := w.imap.Append(email, folder, msg, flags, time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	if w.mail[email] == nil {
		w.mail[email] = map[string]map[uint32][]byte{}
	}
	if w.mail[email][folder] == nil {
		w.mail[email][folder] = map[uint32][]byte{}
	}
	w.mail[email][folder][uint32(uid)] = msg
	return nil
}

func (w *world) seedMail(i int, email string) error {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	n := 40
	if w.small {
		n = 8
	}
	if err := w.imap.CreateFolder(email, "Проекты"); err != nil {
		return err
	}
	if err := w.imap.CreateFolder(email, folderProjects); err != nil {
		return err
	}
	for j := 0; j < n; j++ {
		var flags []imap.Flag
		if j%3 != 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if err := w.append(email, "INBOX", message(r, "boss@demo.y360.test", email, j), flags); err != nil {
			return err
		}
		if j%4 == 0 {
			if err := w.append(email, folderSent, message(r, email, "client@example.com", 1000+j), []imap.Flag{imap.FlagSeen}); err != nil {
				return err
			}
		}
		if j%5 == 0 {
			if err := w.append(email, folderProjects, message(r, "ci@demo.y360.test", email, 2000+j), nil); err != nil {
				return err
			}
		}
	}
	if err := w.append(email, "INBOX", malformed, nil); err != nil {
		return err
	}
	if i == 0 && !w.small { // one large message: 12 MiB attachment
		big := make([]byte, 12<<20)
		for j := range big {
			big[j] = byte(r.IntN(256))
		}
		var b bytes.Buffer
		b.WriteString("From: archive@demo.y360.test\r\nSubject: Большой архив\r\nMessage-Id: <big@demo.y360.test>\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		writeBase64(&b, big)
		if err := w.append(email, "INBOX", b.Bytes(), nil); err != nil {
			return err
		}
	}
	return nil
}

func (w *world) seedDisk(i int, email string) error {
	mt := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	files := map[string][]byte{
		"/Документы/Отчёт за 2025 год.txt":      []byte(strings.Repeat("Выручка выросла. ", 200)),
		"/Документы/Договоры/договор №7.txt":    []byte("Договор поставки №7\n"),
		"/notes/..dots and spaces  .md":         []byte("# hostile-looking name\n"),
		"/" + strings.Repeat("д", 120) + ".txt": []byte("a 240-byte name\n"),
	}
	for p, b := range files {
		if err := w.emu.DiskPutFile(email, p, b, mt); err != nil {
			return err
		}
	}
	size := int64(3 << 20)
	if i == 0 && !w.small {
		size = 40 << 20 // a large file, generated on the fly
	}
	return w.emu.DiskPutGenerated(email, "/Фото/IMG_0001.jpg", size, int64(i), mt)
}

// change makes the edits the incremental run must find.
func (w *world) change() (string, error) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, u := range w.users {
		if err := w.append(u.Email, "INBOX", message(r, "news@demo.y360.test", u.Email, 5000), nil); err != nil {
			return "", err
		}
		if err := w.imap.SetFlags(u.Email, "INBOX", 1, imap.FlagSeen, imap.FlagFlagged); err != nil {
			return "", err
		}
		if err := w.imap.Expunge(u.Email, "INBOX", 2); err != nil {
			return "", err
		}
		delete(w.mail[u.Email]["INBOX"], 2)
		if _, err := w.cal.PutObject(u.Email, "events-default", "new-event.ics", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Yandex LLC//Yandex Calendar//EN\r\nBEGIN:VEVENT\r\nUID:new-event@demo\r\nDTSTAMP:20260301T000000Z\r\nDTSTART:20260302T100000Z\r\nSUMMARY:Новая встреча\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")); err != nil {
			return "", err
		}
		if err := w.emu.DiskPutFile(u.Email, "/Документы/новый файл.txt", []byte("new\n"), time.Now()); err != nil {
			return "", err
		}
		if err := w.emu.DiskMove(u.Email, "/Документы/Договоры/договор №7.txt", "/Архив/договор №7.txt"); err != nil {
			return "", err
		}
		if err := w.emu.DiskRemove(u.Email, "/notes/..dots and spaces  .md", true); err != nil {
			return "", err
		}
		if err := w.changeContacts(u.Email); err != nil {
			return "", err
		}
	}
	return "per user: 1 new mail, 1 flag change, 1 deletion; 1 new event; Disk: 1 new file, 1 moved, 1 deleted; 1 new contact", nil
}
