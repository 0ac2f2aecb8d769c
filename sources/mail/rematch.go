package mail

import (
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/y360backup/y360backup/sources"
)

// When a folder's UIDVALIDITY changes every UID is new, but the messages
// usually are not. Before the container is reset, rematchIndex remembers its
// items by (RFC822.SIZE, INTERNALDATE, Message-Id); a message listed under the
// new UIDVALIDITY with the same triple is re-recorded with the old body hash
// and not downloaded again. Messages without a Message-Id are never matched
// (a size+second collision would silently attach the wrong body), they are
// downloaded, and the content-addressed store still avoids re-uploading them.
//
// The index lives only for the run. A run killed in the middle of re-listing
// loses the rest of it: the next run downloads the remaining messages again,
// but uploads none of them twice.

type rematchKey struct {
	size  int64
	date  int64 // INTERNALDATE, Unix seconds (zone-independent)
	msgID string
}

type oldBody struct {
	hash string
	size int64
}

type rematchIndex struct {
	m map[rematchKey][]oldBody
}

func makeKey(size int64, date time.Time, msgID string) (rematchKey, bool) {
	if msgID == "" || date.IsZero() || size <= 0 {
		return rematchKey{}, false
	}
	return rematchKey{size: size, date: date.Unix(), msgID: msgID}, true
}

// buildRematch indexes the container's live items. ix may be a previous index
// (a second change within one run); its unused entries are kept.
func buildRematch(c sources.Container, ix *rematchIndex) *rematchIndex {
	if ix == nil {
		ix = &rematchIndex{m: map[rematchKey][]oldBody{}}
	}
	c.Range(func(it sources.Item) bool {
		m, err := decodeMeta(it.Meta)
		if err != nil {
			return true
		}
		date, err := time.Parse(time.RFC3339, m.Date)
		if err != nil {
			return true
		}
		if k, ok := makeKey(m.Size, date, m.MessageID); ok {
			ix.m[k] = append(ix.m[k], oldBody{hash: it.Hash, size: it.Size})
		}
		return true
	})
	return ix
}

// take returns and consumes an old body for the message, if one matches.
func (ix *rematchIndex) take(size int64, date time.Time, msgID string) (oldBody, bool) {
	k, ok := makeKey(size, date, msgID)
	if !ok {
		return oldBody{}, false
	}
	l := ix.m[k]
	if len(l) == 0 {
		return oldBody{}, false
	}
	b := l[len(l)-1]
	if len(l) == 1 {
		delete(ix.m, k)
	} else {
		ix.m[k] = l[:len(l)-1]
	}
	return b, true
}

func (ix *rematchIndex) len() int {
	n := 0
	for _, l := range ix.m {
		n += len(l)
	}
	return n
}

// rematchFetchOptions asks for what the key needs, without the body.
func rematchFetchOptions() *imap.FetchOptions {
	return &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true}
}
