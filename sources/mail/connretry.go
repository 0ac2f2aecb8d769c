package mail

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/y360backup/y360backup/sources"
)

// Connect retries (issue 16.2): a server down for a few seconds (a restart,
// a failover) refused every user that tried to connect meanwhile, and an
// hourly schedule then had a one-hour hole. Connecting and logging in are
// retried while they fail transiently: connection refused, reset or
// aborted, host or network unreachable, a timeout, and NO [UNAVAILABLE] to
// the login (RFC 5530: "temporary failure"). Anything else (a refused
// token, a garbage greeting, a NO or BAD to a command) or a done context
// ends it at once.
var (
	connectRetries    = 5
	connectMinBackoff = 500 * time.Millisecond
	connectMaxBackoff = 8 * time.Second // 5 retries wait 7.75-15.5 s in all
)

// dialRetry runs dial until it succeeds, fails other than transiently, or
// connectRetries transient failures have been waited out with backoff.
func dialRetry(ctx context.Context, dial func() error) error {
	for attempt := 0; ; attempt++ {
		err := dial()
		if err == nil || !transient(err) || attempt >= connectRetries || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(sources.Backoff(connectMinBackoff, connectMaxBackoff, attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// errUnavailable is a login answered NO [UNAVAILABLE].
var errUnavailable = errors.New("NO [UNAVAILABLE]")

// transient reports a connect or login failure that waiting may cure.
func transient(err error) bool {
	if !isConnErr(err) {
		return false
	}
	var ne net.Error
	return errors.Is(err, errUnavailable) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.As(err, &ne) && ne.Timeout()
}
