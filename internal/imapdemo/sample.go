package imapdemo

import (
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// SampleFolders are the extra folders SeedSample creates (with the default
// "|" delimiter; other delimiters get the same names with theirs).
var SampleFolders = []string{"Проекты", "Архив|2024"}

// SeedSample fills a user's mailbox with a deterministic, realistic-looking
// sample for the demo: perFolder messages in INBOX, Отправленные (when it
// exists), and each of SampleFolders (created if missing). Messages are
// plain or multipart with a small attachment, have Russian and English
// text, mixed flags, and dates spread over 2024–2025. The same seed gives the
// same bytes.
func (s *Server) SeedSample(email string, perFolder int, seed int64) error {
	u := s.ensureUser(email)
	folders := []string{"INBOX"}
	if _, err := u.mem.Status("Отправленные", &imap.StatusOptions{}); err == nil {
		folders = append(folders, "Отправленные")
	}
	for _, name := range SampleFolders {
		name = strings.ReplaceAll(name, "|", string(s.opts.Delim))
		if _, err := u.mem.Status(name, &imap.StatusOptions{}); err != nil {
			if err := s.CreateFolder(email, name); err != nil {
				return err
			}
		}
		folders = append(folders, name)
	}
	rng := rand.New(rand.NewSource(seed))
	start := time.Date(2024, 1, 1, 9, 0, 0, 0, time.FixedZone("MSK", 3*3600))
	for fi, folder := range folders {
		for i := 0; i < perFolder; i++ {
			msg := sampleMessage(rng, email, fi, i)
			var flags []imap.Flag
			if rng.Intn(4) != 0 {
				flags = append(flags, imap.FlagSeen)
			}
			if rng.Intn(10) == 0 {
				flags = append(flags, imap.FlagAnswered)
			}
			if rng.Intn(20) == 0 {
				flags = append(flags, imap.FlagFlagged)
			}
			date := start.Add(time.Duration(rng.Int63n(int64(2 * 365 * 24 * time.Hour))))
			if _, err := s.Append(email, folder, msg, flags, date); err != nil {
				return err
			}
		}
	}
	return nil
}

func sampleMessage(rng *rand.Rand, email string, folder, i int) []byte {
	subjects := []string{"Отчёт за квартал", "Встреча в четверг", "Invoice", "Re: планы на неделю", "Weekly digest"}
	subject := subjects[rng.Intn(len(subjects))]
	id := fmt.Sprintf("%d.%d.%x@demo.y360.test", folder, i, rng.Int63())
	var body strings.Builder
	for n := 3 + rng.Intn(40); n > 0; n-- {
		body.WriteString("Добрый день! Это демонстрационное письмо, line of sample text.\r\n")
	}
	head := fmt.Sprintf("From: colleague%d@demo.y360.test\r\nTo: %s\r\nSubject: =?utf-8?B?%s?=\r\n"+
		"Message-Id: <%s>\r\nMIME-Version: 1.0\r\n", rng.Intn(20), email, b64(subject), id)
	if rng.Intn(5) != 0 {
		return []byte(head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body.String())
	}
	attachment := make([]byte, 512+rng.Intn(8<<10))
	rng.Read(attachment)
	return []byte(head + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body.String() +
		"--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		wrap76(b64(string(attachment))) + "--b1--\r\n")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}
