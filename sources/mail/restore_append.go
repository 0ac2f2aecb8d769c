package mail

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// APPENDs are pipelined: up to Config.AppendPipeline commands are sent before
// the answer to the first is awaited, so a distant server costs one round
// trip per window, not per message. (The FETCH interleaving that rules out
// pipelining for backup does not arise: APPEND answers carry no literals.)
// Messages up to maxNonSync bytes go as LITERAL+ literals when the server
// advertises LITERAL+ (LITERAL- up to 4096 bytes), larger ones wait for the
// server's go-ahead: a server that refuses a big message (too big, over
// quota) then says so before the bytes are sent, while a refused
// non-synchronizing literal can only be read and discarded or end the
// connection (RFC 7888 section 4).

const maxNonSync = 1 << 20

// inflight is an APPEND whose answer has not arrived yet.
type inflight struct {
	tag string
	i   int // item index
}

type appender struct {
	rs    *restorer
	c     *wconn
	box   string // the destination as a command argument
	perm  permFlags
	queue []inflight
	bufs  chunks
}

// appendAll appends items idxs to dest. On a connection failure the items
// whose APPEND was sent but not answered are marked uncertain.
func (rs *restorer) appendAll(ctx context.Context, c *wconn, dest string, perm permFlags, idxs []int) error {
	if len(idxs) == 0 {
		return nil
	}
	box, err := mailboxArg(dest)
	if err != nil {
		return err
	}
	a := &appender{rs: rs, c: c, box: box, perm: perm}
	err = a.run(ctx, idxs)
	if err != nil {
		for _, f := range a.queue {
			rs.uncertain[f.i] = true
		}
	}
	return err
}

func (a *appender) run(ctx context.Context, idxs []int) error {
	window := max(1, a.rs.cfg.AppendPipeline)
	for _, i := range idxs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if a.rs.done[i] {
			continue
		}
		if err := a.drain(window - 1); err != nil {
			return err
		}
		if err := a.one(ctx, i); err != nil {
			return err
		}
	}
	return a.drain(0)
}

// drain reads answers until at most n APPENDs are outstanding.
func (a *appender) drain(n int) error {
	for len(a.queue) > n {
		r, err := a.c.read()
		if err != nil {
			return err
		}
		if cont, err := a.dispatch(r); err != nil {
			return err
		} else if cont {
			return a.c.fail(errors.New("unexpected continuation request"))
		}
	}
	return nil
}

// dispatch handles a response read while APPENDs are outstanding; cont
// reports a continuation request.
func (a *appender) dispatch(r *resp) (cont bool, err error) {
	switch {
	case r.tag == "+":
		return true, nil
	case r.tag == "*":
		if r.status == "BYE" {
			return false, a.c.fail(fmt.Errorf("server closed the session: %s", printable(r.text, 200)))
		}
		return false, nil // EXISTS, RECENT... of our own APPENDs
	}
	for k, f := range a.queue {
		if f.tag == r.tag {
			a.queue = append(a.queue[:k], a.queue[k+1:]...)
			return false, a.complete(f.i, r)
		}
	}
	return false, a.c.fail(fmt.Errorf("answer for unknown tag %q", printable(r.tag, 20)))
}

// errOverQuota ends the container: every further APPEND would fail too.
var errOverQuota = errors.New("the mailbox is over quota")

// complete settles item i with the server's answer to its APPEND.
func (a *appender) complete(i int, r *resp) error {
	err := r.err()
	if err == nil {
		a.rs.recordAppend(r.code)
		a.rs.settle(i, true)
		return nil
	}
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return a.c.fail(err)
	}
	switch ie.Code {
	case imap.ResponseCodeOverQuota:
		a.rs.failItem(i, fmt.Errorf("APPEND: %w", err))
		return fmt.Errorf("%w (%v)", errOverQuota, err)
	case imap.ResponseCodeTryCreate:
		return fmt.Errorf("the destination folder disappeared: %w", err)
	}
	a.rs.failItem(i, fmt.Errorf("APPEND: %w", err))
	return nil
}

// appendLine is the APPEND command for item i without its literal.
func (a *appender) appendLine(i int) string {
	var b strings.Builder
	b.WriteString("APPEND ")
	b.WriteString(a.box)
	m := a.rs.metas[i]
	if flags := restoreFlags(m.Flags, a.perm); len(flags) > 0 {
		b.WriteString(" (" + strings.Join(flags, " ") + ")")
	}
	if d, err := time.Parse(time.RFC3339, m.Date); err == nil {
		b.WriteString(` "` + d.Format("02-Jan-2006 15:04:05 -0700") + `"`)
	}
	return b.String()
}

// nonSync reports whether a literal of size may be sent without waiting.
func (c *wconn) nonSync(size int64) bool {
	return c.hasCap("LITERAL+") && size <= maxNonSync || c.hasCap("LITERAL-") && size <= 4096
}

// one sends the APPEND of item i, streaming its body.
func (a *appender) one(ctx context.Context, i int) error {
	it := a.rs.items[i]
	if v, ok := a.c.capValue("APPENDLIMIT"); ok {
		if limit, err := strconv.ParseInt(v, 10, 64); err == nil && it.Size > limit {
			a.rs.failItem(i, fmt.Errorf("message of %d bytes is larger than the server accepts (APPENDLIMIT=%d)", it.Size, limit))
			return nil
		}
	}
	body, err := openBody(ctx, it, &a.bufs)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.rs.failItem(i, err) // nothing was sent
		return nil
	}
	defer body.close()

	a.rs.jr.touch()
	c := a.c
	sync := !c.nonSync(it.Size)
	tag := c.nextTag()
	c.bw.WriteString(tag + " " + a.appendLine(i) + " {" + strconv.FormatInt(it.Size, 10))
	if !sync {
		c.bw.WriteByte('+')
	}
	c.bw.WriteString("}\r\n")
	if sync {
		if err := c.bw.Flush(); err != nil {
			return c.fail(err)
		}
		for {
			r, err := c.read()
			if err != nil {
				return err
			}
			if r.tag == tag { // refused before the literal
				return a.complete(i, r)
			}
			cont, err := a.dispatch(r)
			if err != nil {
				return err
			}
			if cont {
				break
			}
		}
	}
	err = body.sendTo(c.bw)
	if err == nil {
		c.bw.WriteString("\r\n")
		err = c.bw.Flush()
	}
	var se *sourceError
	switch {
	case errors.As(err, &se):
		// The literal cannot be completed: drop the connection, so the
		// server discards the partial message, and go on after a reconnect.
		c.close()
		a.rs.failItem(i, err)
		return &connError{fmt.Errorf("APPEND of %s abandoned: %w", it.ID, err)}
	case err != nil:
		a.rs.uncertain[i] = true // the server may have got it all
		return c.fail(err)
	}
	a.queue = append(a.queue, inflight{tag: tag, i: i})
	return nil
}
