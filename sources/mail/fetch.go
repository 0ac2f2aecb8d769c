package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/y360backup/y360backup/sources"
)

// Body FETCHes are not pipelined. Dovecot runs pipelined FETCH commands in
// parallel and interleaves their untagged responses, while imapclient's reader
// waits for each body literal to be consumed before it reads on; consuming the
// commands one after another then deadlocks. One command per batch costs one
// round trip per Config.BatchSize messages.

var errNoData = errors.New("server returned no data for the message")

// pendingFetch is one batch FETCH in flight.
type pendingFetch struct {
	uids []imap.UID // ascending
	done []bool
	next int // uids[:next] are all done
	cmd  *imapclient.FetchCommand
}

func (p *pendingFetch) index(uid imap.UID) int {
	i := sort.Search(len(p.uids), func(i int) bool { return p.uids[i] >= uid })
	if i < len(p.uids) && p.uids[i] == uid {
		return i
	}
	return -1
}

// fetched is one message as read from a FETCH response.
type fetched struct {
	uid   imap.UID
	flags []imap.Flag
	date  time.Time
	size  int64
	msgID string
	body  *sources.Body // nil if the response carried no body
}

func bodyFetchOptions() *imap.FetchOptions {
	return &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}
}

// issue sends a body FETCH for uids; consume must follow.
func (fs *folderSync) issue(s *session, uids []imap.UID) *pendingFetch {
	s.dc.begin()
	return &pendingFetch{
		uids: uids,
		done: make([]bool, len(uids)),
		cmd:  s.cl.Fetch(imap.UIDSetNum(uids...), bodyFetchOptions()),
	}
}

// fetchUIDs downloads the messages of set in batches of Config.BatchSize.
// With advance, the cursor's LastUID follows the messages as they are stored
// (set must then lie above LastUID); otherwise set lies below it (retries).
// UIDs a batch does not deliver go to the failure list and are retried one
// by one later.
func (fs *folderSync) fetchUIDs(ctx context.Context, s *session, set imap.UIDSet, advance bool) error {
	it := &uidIter{set: set}
	if fs.rematch != nil {
		for {
			batch := it.take(fs.r.cfg.BatchSize)
			if len(batch) == 0 {
				return nil
			}
			if err := fs.rematchBatch(ctx, s, batch, advance); err != nil {
				return err
			}
		}
	}
	for {
		batch := it.take(fs.r.cfg.BatchSize)
		if len(batch) == 0 {
			return nil
		}
		p := fs.issue(s, batch)
		missing, cmdErr, err := fs.consume(ctx, s, p, advance)
		if err != nil {
			return err
		}
		for _, uid := range missing {
			reason := cmdErr
			if reason == nil {
				reason = errNoData
			}
			fs.deferRetry(uid, reason)
		}
		if advance {
			fs.advanceTo(uint32(batch[len(batch)-1]))
		}
		if len(fs.cur.Failed) > maxFailed {
			return fmt.Errorf("more than %d messages could not be fetched; last error: %v", maxFailed, cmdErr)
		}
		if err := fs.commitIfDue(ctx); err != nil {
			return err
		}
	}
}

func (fs *folderSync) advanceTo(uid uint32) {
	if uid > fs.cur.LastUID {
		fs.cur.LastUID = uid
	}
}

// consume reads a batch's responses, storing each body as it streams in. It
// returns the UIDs the batch did not deliver and the command's NO/BAD error;
// err is a connection, store or context failure.
func (fs *folderSync) consume(ctx context.Context, s *session, p *pendingFetch, advance bool) (missing []imap.UID, cmdErr, err error) {
	defer s.dc.end()
	defer func() {
		if err != nil {
			s.abandon(p.cmd)
		}
	}()
	for msg := p.cmd.Next(); msg != nil; msg = p.cmd.Next() {
		m, err := fs.read(ctx, s, msg)
		if err != nil {
			return nil, nil, err
		}
		i := p.index(m.uid)
		if i < 0 || p.done[i] || m.body == nil {
			continue // not ours (e.g. the "*" message), a duplicate, or no body
		}
		fs.put(m)
		p.done[i] = true
		if advance {
			for p.next < len(p.uids) && p.done[p.next] {
				p.next++
			}
			if p.next > 0 {
				fs.advanceTo(uint32(p.uids[p.next-1]))
			}
		}
		if err := fs.commitIfDue(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := s.check(p.cmd.Close()); err != nil {
		if isConnErr(err) {
			return nil, nil, err
		}
		cmdErr = err
	}
	for i, done := range p.done {
		if !done {
			missing = append(missing, p.uids[i])
		}
	}
	return missing, cmdErr, nil
}

// read collects one FETCH response; a body is streamed into the store
// straight from the connection, never buffered whole.
func (fs *folderSync) read(ctx context.Context, s *session, msg *imapclient.FetchMessageData) (fetched, error) {
	var m fetched
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			m.uid = it.UID
		case imapclient.FetchItemDataFlags:
			m.flags = it.Flags
		case imapclient.FetchItemDataInternalDate:
			m.date = it.Time
		case imapclient.FetchItemDataRFC822Size:
			m.size = it.Size
		case imapclient.FetchItemDataEnvelope:
			if it.Envelope != nil {
				m.msgID = it.Envelope.MessageID
			}
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil || m.body != nil || it.Section == nil ||
				it.Section.Specifier != imap.PartSpecifierNone || len(it.Section.Part) > 0 || it.Section.Partial != nil {
				continue
			}
			body, err := fs.storeBody(ctx, s, it.Literal)
			if err != nil {
				return m, err
			}
			m.body = &body
		}
	}
	return m, nil
}

// storeBody streams a literal into PutBody and blames a failure on the side
// that caused it.
func (fs *folderSync) storeBody(ctx context.Context, s *session, lit imap.LiteralReader) (sources.Body, error) {
	tr := &trackingReader{r: lit, size: lit.Size()}
	body, err := fs.c.PutBody(ctx, tr)
	if err == nil && !tr.eof {
		// The store stopped reading early; make sure nothing was left.
		if n, _ := io.Copy(io.Discard, tr); n > 0 {
			err = fmt.Errorf("PutBody stored %d of %d bytes", tr.n-n, tr.n)
		}
	}
	if err == nil {
		return body, nil
	}
	// imapclient's reader waits until the literal is consumed; closing the
	// socket first makes the rest of it fail fast instead of downloading it.
	s.broken = true
	s.dc.Conn.Close()
	if !tr.ended {
		io.Copy(io.Discard, lit) // fails at once on the closed socket
	}
	s.cutLiteral = !tr.eof
	switch {
	case ctx.Err() != nil:
		return body, ctx.Err()
	case tr.err != nil:
		return body, &connError{fmt.Errorf("reading message: %w", tr.err)}
	}
	return body, storeErr("put body", err)
}

// put records a fetched message as an item.
func (fs *folderSync) put(m fetched) {
	md := meta{
		UID:       uint32(m.uid),
		Flags:     canonicalFlags(m.flags),
		Date:      formatDate(m.date),
		Size:      m.size,
		MessageID: m.msgID,
	}
	fs.c.Put(sources.Item{ID: itemID(fs.cur.UIDValidity, m.uid), Hash: m.body.Hash, Size: m.body.Size, Meta: md.encode()})
	fs.cur.removeFailed(m.uid)
	delete(fs.retry, m.uid)
}

// retryOneByOne fetches each UID of fs.retry alone. A UID still refused is
// reported with Store.Fail and stays in the cursor's failure list; a UID the
// server no longer has is dropped.
func (fs *folderSync) retryOneByOne(ctx context.Context, s *session) error {
	for _, uid := range sortedUIDs(fs.retry) {
		reason := fs.retry[uid]
		p := fs.issue(s, []imap.UID{uid})
		missing, cmdErr, err := fs.consume(ctx, s, p, false)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			if cmdErr == nil {
				found, err := s.searchUIDs(imap.UIDSetNum(uid))
				if err != nil {
					return err
				}
				if !found.Contains(uid) {
					fs.cur.removeFailed(uid) // expunged meanwhile
					delete(fs.retry, uid)
					continue
				}
				cmdErr = errNoData
			}
			fs.report(uid, fmt.Errorf("fetch: %w (first attempt: %v)", cmdErr, reason))
		}
		delete(fs.retry, uid)
		if err := fs.commitIfDue(ctx); err != nil {
			return err
		}
	}
	return nil
}

// rematchBatch handles a batch after a UIDVALIDITY change: metadata first;
// messages matching an old item are re-recorded with the old body, the rest
// are downloaded.
func (fs *folderSync) rematchBatch(ctx context.Context, s *session, batch []imap.UID, advance bool) error {
	s.dc.begin()
	cmd := s.cl.Fetch(imap.UIDSetNum(batch...), rematchFetchOptions())
	var metas []fetched
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			break // Close reports it
		}
		m := fetched{uid: buf.UID, flags: buf.Flags, date: buf.InternalDate, size: buf.RFC822Size}
		if buf.Envelope != nil {
			m.msgID = buf.Envelope.MessageID
		}
		metas = append(metas, m)
	}
	err := s.check(cmd.Close())
	s.dc.end()
	if err != nil && isConnErr(err) {
		return err
	}
	p := &pendingFetch{uids: batch, done: make([]bool, len(batch))}
	for _, m := range metas {
		i := p.index(m.uid)
		if i < 0 || p.done[i] {
			continue
		}
		if old, ok := fs.rematch.take(m.size, m.date, m.msgID); ok && fs.c.HasBody(ctx, old.hash) {
			m.body = &sources.Body{Hash: old.hash, Size: old.size}
			fs.put(m)
			p.done[i] = true
		}
	}
	var rest imap.UIDSet
	for i, done := range p.done {
		if !done {
			rest.AddNum(p.uids[i])
		}
	}
	if len(rest) > 0 {
		saved := fs.rematch
		fs.rematch = nil
		err = fs.fetchUIDs(ctx, s, rest, false)
		fs.rematch = saved
		if err != nil {
			return err
		}
	}
	if advance {
		fs.advanceTo(uint32(batch[len(batch)-1]))
	}
	return fs.commitIfDue(ctx)
}
