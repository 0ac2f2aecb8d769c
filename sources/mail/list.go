package mail

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/emersion/go-imap/v2"
)

// LIST is run by hand right after login, before imapclient takes over the
// connection, because imapclient fails the whole LIST (and kills the
// connection) on one name that is not valid modified UTF-7, and Yandex is
// known to send such names for folders containing '&'. Here a bad name is
// decoded leniently: the broken part is kept as sent, the folder is still
// listed, and only its own EXAMINE may fail.

// maxNameLiteral bounds a folder name sent as a literal.
const maxNameLiteral = 64 << 10

// list runs LIST "" "*" and returns every listed name in server order,
// \Noselect and \NonExistent ones included (see selectable).
func (l *loginConn) list() ([]folder, error) {
	tag := l.nextTag()
	if err := l.send(tag + ` LIST "" "*"`); err != nil {
		return nil, err
	}
	var out []folder
	for {
		line, err := l.readLine()
		if err != nil {
			return nil, fmt.Errorf("reading LIST response: %w", err)
		}
		if strings.HasPrefix(line, tag+" ") {
			if status, _, text := parseStatus(line[len(tag)+1:]); status != "OK" {
				return nil, fmt.Errorf("LIST: %s %s", status, printable(text, 200))
			}
			return out, nil
		}
		const prefix = "* LIST "
		if len(line) < len(prefix) || !strings.EqualFold(line[:len(prefix)], prefix) {
			continue // other untagged data
		}
		f, literal, err := parseListLine(line[len(prefix):])
		if err != nil {
			return nil, fmt.Errorf("LIST: %w in %q", err, printable(line, 200))
		}
		if literal >= 0 {
			if f.name, err = l.readLiteralLine(literal); err != nil {
				return nil, fmt.Errorf("LIST: %w", err)
			}
		}
		f.raw = f.name
		f.name = decodeMailbox(f.name)
		out = append(out, f)
	}
}

// selectable drops the names that are not folders one can open (\Noselect
// hierarchy nodes, \NonExistent parents).
func selectable(all []folder) []folder {
	var out []folder
	for _, f := range all {
		if !f.hasAttr(string(imap.MailboxAttrNoSelect)) && !f.hasAttr(string(imap.MailboxAttrNonExistent)) {
			out = append(out, f)
		}
	}
	return out
}

// readLiteralLine reads an n-byte literal and the rest of its line.
func (l *loginConn) readLiteralLine(n int) (string, error) {
	if n > maxNameLiteral {
		return "", fmt.Errorf("folder name literal of %d bytes", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(l.br, buf); err != nil {
		return "", err
	}
	if _, err := l.readLine(); err != nil { // extended data, if any, and CRLF
		return "", err
	}
	return string(buf), nil
}

// parseListLine parses `(attrs) delim mailbox [ext]` after "* LIST ". When
// the mailbox is a literal, literal is its size (else -1) and the name
// follows on the wire.
func parseListLine(s string) (f folder, literal int, err error) {
	literal = -1
	if !strings.HasPrefix(s, "(") {
		return f, literal, errors.New("no attribute list")
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return f, literal, errors.New("unterminated attribute list")
	}
	for _, a := range strings.Fields(s[1:end]) {
		f.attrs = append(f.attrs, imap.MailboxAttr(a))
	}
	s = strings.TrimLeft(s[end+1:], " ")
	// Delimiter: a quoted character or NIL (a flat namespace).
	switch {
	case len(s) >= 4 && strings.HasPrefix(s, `"\`):
		f.delim, s = s[2:3], s[4:] // `"\\"` or `"\""`
	case len(s) >= 3 && s[0] == '"':
		f.delim, s = s[1:2], s[3:]
	case len(s) >= 3 && strings.EqualFold(s[:3], "NIL"):
		s = s[3:]
	default:
		return f, literal, errors.New("bad delimiter")
	}
	s = strings.TrimLeft(s, " ")
	switch {
	case strings.HasPrefix(s, "{"):
		close := strings.IndexByte(s, '}')
		if close < 0 || close != len(s)-1 {
			return f, literal, errors.New("bad literal")
		}
		n, err := strconv.Atoi(strings.TrimSuffix(s[1:close], "+"))
		if err != nil || n < 0 {
			return f, literal, errors.New("bad literal size")
		}
		return f, n, nil
	case strings.HasPrefix(s, `"`):
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				f.name = b.String()
				return f, literal, nil
			default:
				b.WriteByte(c)
			}
		}
		return f, literal, errors.New("unterminated quoted name")
	case s == "":
		return f, literal, errors.New("no folder name")
	}
	// Atom (extended data, if any, follows after a space).
	if sp := strings.IndexByte(s, ' '); sp >= 0 {
		s = s[:sp]
	}
	f.name = s
	return f, literal, nil
}

// decodeMailbox decodes a modified UTF-7 folder name (RFC 3501 5.1.3).
// Parts that are not valid modified UTF-7 are kept as sent.
func decodeMailbox(s string) string {
	if strings.EqualFold(s, "INBOX") {
		return "INBOX"
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '&' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 { // unterminated shift: keep the rest as sent
			b.WriteString(s[i:])
			break
		}
		enc := s[i+1 : i+1+j]
		switch dec, ok := decodeUTF16Run(enc); {
		case enc == "":
			b.WriteByte('&')
		case ok:
			b.WriteString(dec)
		default:
			b.WriteString(s[i : i+2+j])
		}
		i += 2 + j
	}
	return b.String()
}

// decodeUTF16Run decodes the base64 (with ',' for '/') UTF-16BE inside "&...-".
func decodeUTF16Run(enc string) (string, bool) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(enc, ",", "/"))
	if err != nil || len(raw) == 0 || len(raw)%2 != 0 {
		return "", false
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	runes := utf16.Decode(units)
	for _, r := range runes {
		if r == '\uFFFD' || (r >= 0x20 && r <= 0x7e) { // broken surrogates; ASCII must be sent as is
			return "", false
		}
	}
	return string(runes), true
}
