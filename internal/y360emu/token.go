package y360emu

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// TokenPrefix starts every token the emulator mints. Real Yandex tokens start
// with "y0_" too; the rest is emulator-specific.
const TokenPrefix = "y0_emu."

// Claims is what a minted token carries. Tokens are
// TokenPrefix + base64url(JSON claims) + "." + base64url(HMAC-SHA256(key, that base64 text)),
// so any emulator with the same key validates them without shared state.
type Claims struct {
	Subject string   `json:"sub"`    // uid (or the email for users unknown to the minting emulator)
	Email   string   `json:"email"`  // what introspection reports as username
	Scopes  []string `json:"scp"`    // granted scopes
	Issued  int64    `json:"iat_ms"` // Unix milliseconds
	Expires int64    `json:"exp_ms"` // Unix milliseconds
	Gen     int64    `json:"gen"`    // revocation generation of the minting emulator
	Nonce   string   `json:"jti"`    // makes every token unique
}

// ExpiresAt returns the expiry instant.
func (c Claims) ExpiresAt() time.Time { return time.UnixMilli(c.Expires) }

// HasScope reports whether the token was granted scope.
func (c Claims) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Token validation failures (never shown with the token itself).
var (
	ErrTokenMalformed = errors.New("token malformed")
	ErrTokenSignature = errors.New("token signature invalid")
	ErrTokenExpired   = errors.New("token expired")
	ErrTokenRevoked   = errors.New("token revoked")
	ErrUserBlocked    = errors.New("user blocked")
)

// mint signs claims for user u with scopes, valid for the current lifetime.
func (s *Server) mint(sub, email string, scopes []string) (string, Claims) {
	s.mu.Lock()
	life, gen := s.lifetime, s.gen
	s.mu.Unlock()
	now := s.now()
	if s.opts.BenchTokens {
		return benchPrefix + email, Claims{Subject: sub, Email: email, Scopes: scopes,
			Issued: now.UnixMilli(), Expires: now.Add(life).UnixMilli(), Gen: gen}
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	c := Claims{
		Subject: sub, Email: email, Scopes: append([]string{}, scopes...),
		Issued: now.UnixMilli(), Expires: now.Add(life).UnixMilli(), Gen: gen,
		Nonce: hex.EncodeToString(nonce[:]),
	}
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return TokenPrefix + p + "." + base64.RawURLEncoding.EncodeToString(s.sign(p)), c
}

func (s *Server) sign(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// benchPrefix is the bench harness's token convention (Options.BenchTokens).
const benchPrefix = "valid-"

// MintToken signs a token for email (known user → its uid and scopes; unknown
// → subject = email) with the given scopes, or the default service
// application's scopes when none are given. It bypasses the token-exchange
// checks: tests use it to get a token for Dovecot/Radicale quickly.
func (s *Server) MintToken(email string, scopes ...string) string {
	sub := email
	s.mu.Lock()
	if u := s.byEmail[lower(email)]; u != nil {
		sub, email = u.ID, u.Email
		if len(scopes) == 0 && u.Scopes != nil {
			scopes = u.Scopes
		}
	}
	s.mu.Unlock()
	if len(scopes) == 0 {
		scopes = DefaultScopes()
	}
	tok, _ := s.mint(sub, email, scopes)
	return tok
}

// Verify checks a token's signature, expiry and revocation and that its user
// (if known to this emulator) is not blocked and the service-application
// feature is active. Users unknown to this emulator are accepted, so a
// standalone emulator can validate tokens minted in-process for any email.
func (s *Server) Verify(tok string) (Claims, error) {
	if email, ok := strings.CutPrefix(tok, benchPrefix); ok && s.opts.BenchTokens {
		return Claims{Email: email, Scopes: DefaultScopes(), Expires: s.now().Add(time.Hour).UnixMilli()}, nil
	}
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		return Claims{}, ErrTokenMalformed
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return Claims{}, ErrTokenMalformed
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrTokenMalformed
	}
	if !hmac.Equal(got, s.sign(p)) {
		return Claims{}, ErrTokenSignature
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Claims{}, ErrTokenMalformed
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return Claims{}, ErrTokenMalformed
	}
	if !s.now().Before(c.ExpiresAt()) {
		return c, ErrTokenExpired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Gen < s.gen || !s.active {
		return c, ErrTokenRevoked
	}
	if u := s.lookupLocked(c.Subject); u != nil && u.Blocked {
		return c, ErrUserBlocked
	}
	return c, nil
}

// ValidateToken reports the email a valid token belongs to. The demo IMAP and
// CalDAV servers call it in-process; /introspect serves the same answer.
func (s *Server) ValidateToken(tok string) (email string, ok bool) {
	c, err := s.Verify(tok)
	if err != nil {
		return "", false
	}
	return c.Email, true
}

// RevokeAllTokens makes every token minted so far (by any emulator with this
// key, as far as this emulator's answers go) invalid.
func (s *Server) RevokeAllTokens() {
	s.mu.Lock()
	s.gen++
	s.mu.Unlock()
}

// SetTokenLifetime changes expires_in for tokens minted from now on (e.g. 2s
// to force re-minting mid-run). It is rounded up to whole seconds, as
// expires_in is; d <= 0 restores Options.TokenLifetime.
func (s *Server) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = s.opts.TokenLifetime
	}
	s.mu.Lock()
	s.lifetime = roundSeconds(d)
	s.mu.Unlock()
}

// roundSeconds rounds d up to a whole number of seconds (at least one).
func roundSeconds(d time.Duration) time.Duration {
	r := d.Truncate(time.Second)
	if r < d || r == 0 {
		r += time.Second
	}
	return r
}
