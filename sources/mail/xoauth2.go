package mail

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/emersion/go-sasl"
)

// xoauth2Client is the client side of the XOAUTH2 SASL mechanism, which
// go-sasl does not ship. It sends one message,
// "user=<email>\x01auth=Bearer <token>\x01\x01". A server that refuses the
// token answers with a challenge carrying a JSON error; the client must reply
// with an empty response, after which the server sends NO. The decoded
// challenge is kept in serverErr so the refusal can say why.
type xoauth2Client struct {
	user, token string
	serverErr   *xoauth2Error
}

var _ sasl.Client = (*xoauth2Client)(nil)

func (c *xoauth2Client) Start() (mech string, ir []byte, err error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	c.serverErr = parseXOAUTH2Error(challenge)
	return []byte{}, nil
}

// xoauth2Error is the JSON a server sends when it refuses an XOAUTH2 token,
// e.g. {"status":"401","schemes":"bearer","scope":"mail"}.
type xoauth2Error struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
	raw     string // the challenge when it is not that JSON
}

func parseXOAUTH2Error(challenge []byte) *xoauth2Error {
	var e xoauth2Error
	if err := json.Unmarshal(challenge, &e); err != nil || e.Status == "" {
		return &xoauth2Error{raw: printable(string(challenge), 200)}
	}
	e.Status, e.Schemes, e.Scope = printable(e.Status, 40), printable(e.Schemes, 40), printable(e.Scope, 200)
	return &e
}

func (e *xoauth2Error) Error() string {
	if e.raw != "" {
		return fmt.Sprintf("server challenge %q", e.raw)
	}
	s := "status " + e.Status
	if e.Scope != "" {
		s += ", scope " + e.Scope
	}
	if e.Schemes != "" {
		s += ", schemes " + e.Schemes
	}
	return s
}

// printable shortens s and replaces control characters, so that a hostile or
// broken server cannot put arbitrary bytes into our error messages.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
