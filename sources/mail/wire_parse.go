package mail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Limits of the hand parser. A response is read value by value; everything
// but a FETCH BODY[] literal (which is hashed as it streams) counts against
// maxResponse, so a broken or hostile server cannot make us buffer much.
const (
	maxResponse = 4 << 20 // buffered bytes per response
	maxAtom     = 16 << 10
	maxDepth    = 32 // nesting of parenthesized lists
)

// resp is one server response.
type resp struct {
	tag    string // the command's tag; "*" untagged; "+" continuation request
	status string // OK, NO, BAD, BYE or PREAUTH for status responses, else ""
	code   string // response code without brackets ("APPENDUID 38505 3955")
	text   string
	num    uint32     // n of "* n EXISTS|EXPUNGE|RECENT|FETCH"
	kind   string     // untagged data name ("EXISTS", "FETCH", "FLAGS"...), upper case
	fetch  *fetchData // for FETCH
	args   []value    // the values of other untagged data
}

// err returns a tagged NO or BAD as *imap.Error (nil for OK).
func (r *resp) err() error {
	switch r.status {
	case "OK":
		return nil
	case "NO", "BAD":
		name, _, _ := strings.Cut(r.code, " ")
		return &imap.Error{Type: imap.StatusResponseType(r.status), Code: imap.ResponseCode(strings.ToUpper(name)),
			Text: printable(r.text, 300)}
	}
	return fmt.Errorf("unexpected status %q", printable(r.status, 20))
}

// value is one parsed IMAP value.
type value struct {
	kind byte // 'a' atom, 's' string (quoted or literal), 'n' NIL, 'l' list
	s    string
	list []value
}

type parser struct {
	br     *bufio.Reader
	budget int
}

var errBudget = errors.New("response too large")

func (p *parser) peek() (byte, error) {
	b, err := p.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (p *parser) next() (byte, error) { return p.br.ReadByte() }

func (p *parser) expect(c byte) error {
	b, err := p.next()
	if err != nil {
		return err
	}
	if b != c {
		return fmt.Errorf("expected %q, got %q", c, b)
	}
	return nil
}

func (p *parser) spend(n int) error {
	p.budget -= n
	if p.budget < 0 {
		return errBudget
	}
	return nil
}

// crlf consumes the end of a line (a bare LF is tolerated).
func (p *parser) crlf() error {
	b, err := p.next()
	if err != nil {
		return err
	}
	if b == '\r' {
		b, err = p.next()
		if err != nil {
			return err
		}
	}
	if b != '\n' {
		return fmt.Errorf("expected end of line, got %q", b)
	}
	return nil
}

// rest reads the rest of the line (a status text).
func (p *parser) rest() (string, error) {
	line, err := p.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("line longer than %d bytes", p.br.Size())
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// atom reads an atom. Brackets are kept together with what they enclose, so
// "BODY[HEADER.FIELDS (X)]<0>" is one atom.
func (p *parser) atom() (string, error) {
	var b strings.Builder
	depth := 0
	for {
		c, err := p.peek()
		if err != nil {
			return "", err
		}
		switch {
		case c == '\r' || c == '\n':
			if depth > 0 {
				return "", errors.New("unterminated [ in atom")
			}
		case depth == 0 && (c == ' ' || c == '(' || c == ')' || c == '"' || c == '{'):
		default:
			p.next()
			switch c {
			case '[':
				depth++
			case ']':
				if depth > 0 {
					depth--
				}
			}
			if b.Len() >= maxAtom {
				return "", errors.New("atom too long")
			}
			b.WriteByte(c)
			continue
		}
		if b.Len() == 0 {
			return "", fmt.Errorf("expected an atom, got %q", c)
		}
		return b.String(), nil
	}
}

// literalSize reads "{n}" or "{n+}" (or literal8 "~{n}") and the CRLF after it.
func (p *parser) literalSize() (int64, error) {
	c, err := p.next()
	if err == nil && c == '~' {
		c, err = p.next()
	}
	if err != nil {
		return 0, err
	}
	if c != '{' {
		return 0, fmt.Errorf("expected a literal, got %q", c)
	}
	var digits strings.Builder
	for {
		c, err := p.next()
		if err != nil {
			return 0, err
		}
		if c == '}' {
			break
		}
		if c != '+' && c != '-' && (c < '0' || c > '9') || digits.Len() > 20 {
			return 0, fmt.Errorf("bad literal size")
		}
		if c >= '0' && c <= '9' {
			digits.WriteByte(c)
		}
	}
	n, err := strconv.ParseInt(digits.String(), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad literal size %q", digits.String())
	}
	return n, p.crlf()
}

// quoted reads a quoted string (the opening quote not yet consumed).
func (p *parser) quoted() (string, error) {
	p.next()
	var b strings.Builder
	for {
		c, err := p.next()
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if c, err = p.next(); err != nil {
				return "", err
			}
		case '\r', '\n':
			return "", errors.New("line break in quoted string")
		}
		if err := p.spend(1); err != nil {
			return "", err
		}
		b.WriteByte(c)
	}
}

// value reads one value of any kind.
func (p *parser) value(depth int) (value, error) {
	c, err := p.peek()
	if err != nil {
		return value{}, err
	}
	switch c {
	case '(':
		if depth >= maxDepth {
			return value{}, errors.New("lists nested too deep")
		}
		p.next()
		v := value{kind: 'l'}
		for {
			c, err := p.peek()
			if err != nil {
				return v, err
			}
			switch c {
			case ')':
				p.next()
				return v, nil
			case ' ':
				p.next()
				continue
			}
			item, err := p.value(depth + 1)
			if err != nil {
				return v, err
			}
			if err := p.spend(16); err != nil {
				return v, err
			}
			v.list = append(v.list, item)
		}
	case '"':
		s, err := p.quoted()
		return value{kind: 's', s: s}, err
	case '{', '~':
		n, err := p.literalSize()
		if err != nil {
			return value{}, err
		}
		if err := p.spend(int(min(n, maxResponse+1))); err != nil {
			return value{}, err
		}
		buf := make([]byte, n)
		_, err = io.ReadFull(p.br, buf)
		return value{kind: 's', s: string(buf)}, err
	}
	a, err := p.atom()
	if err != nil {
		return value{}, err
	}
	if err := p.spend(len(a)); err != nil {
		return value{}, err
	}
	if strings.EqualFold(a, "NIL") {
		return value{kind: 'n'}, nil
	}
	return value{kind: 'a', s: a}, nil
}

// values reads values up to the end of the line.
func (p *parser) values() ([]value, error) {
	var out []value
	for {
		c, err := p.peek()
		if err != nil {
			return out, err
		}
		switch c {
		case '\r', '\n':
			return out, p.crlf()
		case ' ':
			p.next()
			continue
		}
		v, err := p.value(0)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func isStatus(s string) bool {
	switch s {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		return true
	}
	return false
}

// statusRest fills status, code and text from the rest of a status line.
func (p *parser) statusRest(r *resp, status string) error {
	line, err := p.rest()
	if err != nil {
		return err
	}
	r.status = status
	_, r.code, r.text = parseStatus(status + line)
	return nil
}

// response reads one response.
func (p *parser) response() (*resp, error) {
	c, err := p.peek()
	if err != nil {
		return nil, err
	}
	if c == '+' {
		p.next()
		line, err := p.rest()
		return &resp{tag: "+", text: strings.TrimSpace(line)}, err
	}
	tag, err := p.atom()
	if err != nil {
		return nil, err
	}
	if err := p.expect(' '); err != nil {
		return nil, err
	}
	r := &resp{tag: tag}
	word, err := p.atom()
	if err != nil {
		return nil, err
	}
	up := strings.ToUpper(word)
	if tag != "*" {
		if !isStatus(up) {
			return nil, fmt.Errorf("tagged response %q is not a status", printable(word, 20))
		}
		return r, p.statusRest(r, up)
	}
	if isStatus(up) {
		return r, p.statusRest(r, up)
	}
	if n, err := strconv.ParseUint(word, 10, 32); err == nil {
		r.num = uint32(n)
		if err := p.expect(' '); err != nil {
			return nil, err
		}
		if word, err = p.atom(); err != nil {
			return nil, err
		}
		r.kind = strings.ToUpper(word)
		if r.kind == "FETCH" {
			if err := p.expect(' '); err != nil {
				return nil, err
			}
			if r.fetch, err = p.fetch(); err != nil {
				return nil, fmt.Errorf("FETCH: %w", err)
			}
			return r, p.crlf()
		}
		r.args, err = p.values()
		return r, err
	}
	r.kind = up
	r.args, err = p.values()
	return r, err
}
