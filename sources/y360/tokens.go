package y360

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// RefreshFraction is the part of a token's lifetime after which Token mints
// a new one (Yandex tokens live 1 h → re-minted after 48 min, leaving 12 min
// for a long IMAP session to finish with the old one).
const RefreshFraction = 0.8

// Tokens returns the cached TokenSource of user u: the same value for the same
// user id for the life of the Client (users without an id are keyed by email).
// The latest u passed in is what the next exchange uses.
func (c *Client) Tokens(u sources.User) sources.TokenSource {
	key := u.ID
	if key == "" {
		key = "email:" + u.Email
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ut, ok := c.tokens[key]
	if !ok {
		ut = &userTokens{c: c}
		c.tokens[key] = ut
	}
	ut.mu.Lock()
	ut.user = u
	ut.mu.Unlock()
	return ut
}

// userTokens caches one user's token and makes concurrent callers share one
// exchange (a per-user singleflight).
type userTokens struct {
	c *Client

	mu        sync.Mutex
	user      sources.User
	tok       Token
	refreshAt time.Time // mint a new token from this instant on
	expiresAt time.Time // the server stops accepting tok here
	call      *mintCall // exchange in flight, nil if none
}

// mintCall is one exchange shared by every caller that asked while it ran.
// It runs under its own context, cancelled only when every waiter gave up,
// so one impatient caller does not fail the others.
type mintCall struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int
	tok     string
	err     error
}

var _ sources.TokenSource = (*userTokens)(nil)

// Token returns the cached token while it is younger than RefreshFraction of
// its lifetime, and otherwise waits for a (shared) exchange. If re-minting
// fails while the old token still has over a tenth of its life left, the old
// one is returned and minting is tried again a little later.
func (ut *userTokens) Token(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("y360: token: %w", err)
	}
	ut.mu.Lock()
	if ut.tok.AccessToken != "" && ut.c.cfg.Now().Before(ut.refreshAt) {
		tok := ut.tok.AccessToken
		ut.mu.Unlock()
		return tok, nil
	}
	call := ut.call
	if call == nil {
		call = ut.startMint(ctx)
	}
	call.waiters++
	ut.mu.Unlock()

	select {
	case <-call.done:
		return call.tok, call.err
	case <-ctx.Done():
		ut.mu.Lock()
		call.waiters--
		if call.waiters == 0 {
			call.cancel() // nobody wants the result any more
		}
		ut.mu.Unlock()
		return "", fmt.Errorf("y360: token for user %s: %w", userRef(ut.user), ctx.Err())
	}
}

// startMint launches the exchange; ut.mu must be held.
func (ut *userTokens) startMint(ctx context.Context) *mintCall {
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	call := &mintCall{done: make(chan struct{}), cancel: cancel}
	ut.call = call
	user := ut.user
	go func() {
		defer cancel()
		tok, err := ut.c.ExchangeToken(mctx, user)
		ut.mu.Lock()
		defer ut.mu.Unlock()
		now := ut.c.cfg.Now()
		switch {
		case err == nil:
			ut.tok = tok
			ut.refreshAt = tok.Obtained.Add(time.Duration(float64(tok.ExpiresIn) * RefreshFraction))
			ut.expiresAt = tok.Obtained.Add(tok.ExpiresIn)
			call.tok = tok.AccessToken
		case ut.tok.AccessToken != "" && now.Before(ut.expiresAt.Add(-ut.tok.ExpiresIn/10)):
			// Keep serving the old token; try again after a quarter of what is left.
			ut.refreshAt = now.Add(ut.expiresAt.Sub(now) / 4)
			call.tok = ut.tok.AccessToken
		default:
			call.err = err
		}
		ut.call = nil
		close(call.done)
	}()
	return call
}

// Invalidate drops tok if it is still the cached token. Callers that all got
// a 401 for the same token therefore cause one re-mint, not one each.
func (ut *userTokens) Invalidate(tok string) {
	ut.mu.Lock()
	defer ut.mu.Unlock()
	if tok != "" && ut.tok.AccessToken == tok {
		ut.tok = Token{}
		ut.refreshAt, ut.expiresAt = time.Time{}, time.Time{}
	}
}
