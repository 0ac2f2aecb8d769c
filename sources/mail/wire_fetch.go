package mail

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

// fetchData is the part of a FETCH response restore uses.
type fetchData struct {
	uid   uint32
	size  int64 // RFC822.SIZE, -1 if absent
	date  time.Time
	flags []string // nil if absent
	msgID string   // from ENVELOPE, normalized as imapclient does
	env   bool     // ENVELOPE was present
	hash  string   // hex SHA-256 of BODY[], if present
	blen  int64    // length of BODY[]
}

// fetch parses the attribute list of a FETCH response. A BODY[] literal is
// hashed while it streams by, never held in memory.
func (p *parser) fetch() (*fetchData, error) {
	if err := p.expect('('); err != nil {
		return nil, err
	}
	f := &fetchData{size: -1}
	for {
		c, err := p.peek()
		if err != nil {
			return nil, err
		}
		if c == ' ' {
			p.next()
			continue
		}
		if c == ')' {
			p.next()
			return f, nil
		}
		name, err := p.atom()
		if err != nil {
			return nil, err
		}
		if err := p.expect(' '); err != nil {
			return nil, err
		}
		name = strings.ToUpper(name)
		if strings.HasPrefix(name, "BODY[]") {
			if err := p.body(f); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		v, err := p.value(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		switch name {
		case "UID":
			n, err := strconv.ParseUint(v.s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("UID %q: %w", printable(v.s, 20), err)
			}
			f.uid = uint32(n)
		case "RFC822.SIZE":
			n, err := strconv.ParseInt(v.s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("RFC822.SIZE %q: %w", printable(v.s, 20), err)
			}
			f.size = n
		case "INTERNALDATE":
			t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", v.s)
			if err != nil {
				return nil, fmt.Errorf("INTERNALDATE %q: %w", printable(v.s, 40), err)
			}
			f.date = t
		case "FLAGS":
			f.flags = []string{}
			for _, x := range v.list {
				f.flags = append(f.flags, x.s)
			}
		case "ENVELOPE":
			f.env = true
			if len(v.list) >= 10 && v.list[9].kind == 's' {
				f.msgID = parseMsgID(v.list[9].s)
			}
		}
	}
}

// body hashes a BODY[] value: a literal streams into SHA-256.
func (p *parser) body(f *fetchData) error {
	h := sha256.New()
	c, err := p.peek()
	if err != nil {
		return err
	}
	if c == '{' || c == '~' {
		n, err := p.literalSize()
		if err != nil {
			return err
		}
		if _, err := io.CopyN(h, p.br, n); err != nil {
			return err
		}
		f.blen = n
	} else {
		v, err := p.value(0)
		if err != nil {
			return err
		}
		h.Write([]byte(v.s))
		f.blen = int64(len(v.s))
	}
	f.hash = hex.EncodeToString(h.Sum(nil))
	return nil
}

// parseMsgID normalizes an envelope Message-Id exactly as imapclient does for
// the backup (go-message's parser: angle brackets stripped; "" when it does
// not parse), so that restore matches what the backup recorded.
func parseMsgID(s string) string {
	var h gomail.Header
	h.Set("Message-Id", s)
	id, err := h.MessageID()
	if err != nil {
		return ""
	}
	return id
}
