// Package sources defines what every data source (mail, calendar, disk) hands the
// backup engine, and what the engine hands back. Sources never import backup or
// sinks; they see storage only through the Store and Container interfaces below,
// which package backup implements.
package sources

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// User is one member of the organization, as the Directory API lists them.
type User struct {
	ID       string // Yandex uid, a decimal string ("1130000018743049")
	Email    string // primary email; the IMAP XOAUTH2 user and CalDAV principal
	Nickname string
	Enabled  bool // false = blocked in the org
	Robot    bool
}

// TokenSource yields a user's short-lived OAuth access token. Implementations
// cache tokens and re-mint them before expiry; Token is safe for concurrent use.
type TokenSource interface {
	// Token returns a valid token, minting one if the cached one is missing or old.
	Token(ctx context.Context) (string, error)
	// Invalidate drops tok from the cache after the server refused it (HTTP 401,
	// IMAP AUTHENTICATIONFAILED) so the next Token call mints a fresh one.
	// Callers retry once with the new token and then give up.
	Invalidate(tok string)
}

// Source backs up one kind of data for one user.
type Source interface {
	Name() string // "mail", "calendar", "disk"
	// Backup walks the user's data and records it in st. It returns an error
	// only when the user as a whole could not be backed up (auth refused,
	// server unreachable); per-item and per-container problems go to
	// st.Fail / st.Skip and the walk continues.
	Backup(ctx context.Context, u User, tok TokenSource, st Store) error
}

// Store is the repository as one (user, source) pair sees it during one run.
type Store interface {
	// Containers lists the names of containers (mail folders, calendars, the
	// Disk root) that hold items as of the last committed checkpoint.
	Containers() []string
	// Open loads the committed state of a container (creating it empty if new).
	// The caller must Close it. At most one Container per name is open at a time.
	Open(ctx context.Context, name string) (Container, error)
	// Remove records that a container disappeared at the source (folder deleted):
	// its items stop being live; older snapshots still restore them.
	Remove(ctx context.Context, name string) error
	// Fail records a recoverable per-item (or per-container) failure; the run
	// continues and ends non-zero. item names the thing ("INBOX uid 42").
	Fail(item string, err error)
	// Skip records an item deliberately not backed up (too large, excluded).
	Skip(item string, cause string)
}

// Item is one committed record in a container: an email, a calendar object, a file.
type Item struct {
	ID   string          // source-specific, stable within the container ("<uidvalidity>/<uid>", href, path)
	Hash string          // hex SHA-256 of the body's plaintext bytes
	Size int64           // plaintext size in bytes
	Meta json.RawMessage // source-specific metadata (flags, dates, etag, ...)
}

// Body is an object stored in the repository's content-addressed store.
type Body struct {
	Hash string // hex SHA-256 of the plaintext
	Size int64
}

// Container is one folder/calendar/drive of one user, open for a backup run.
//
// All changes are buffered and become visible (durable) only at Commit, which
// writes one append-only index segment together with the source's cursor. A run
// killed between commits loses only the uncommitted records; bodies already
// written are found again by hash and not uploaded twice.
type Container interface {
	Name() string
	// Cursor is the source's resume state from the last commit (nil if none).
	Cursor() json.RawMessage
	// Get returns the live item with this ID.
	Get(id string) (Item, bool)
	// Range calls fn for every live item, in no particular order, until fn returns false.
	Range(fn func(Item) bool)
	// Len is the number of live items.
	Len() int

	// PutBody streams r into the object store and returns its address. Memory
	// use is bounded whatever the size of r. An identical body already stored
	// (by any user, any run) is not uploaded again. If r is a SizedReader
	// the store may rely on its size.
	PutBody(ctx context.Context, r io.Reader) (Body, error)
	// HasBody reports whether a body with this hash is known to be stored.
	HasBody(ctx context.Context, hash string) bool

	// Put records item as added or changed (same ID = replaced).
	Put(it Item)
	// SetMeta replaces only the metadata of a live item (e.g. flag changes).
	SetMeta(id string, meta json.RawMessage)
	// Delete records that the item is gone at the source.
	Delete(id string)
	// Reset marks every live item deleted, e.g. when a mail folder's UIDVALIDITY
	// changed and items are re-listed under new IDs. Bodies stay stored.
	Reset()

	// Due reports whether enough has changed (records or time) that the
	// source should Commit at its next consistent point.
	Due() bool
	// Commit durably writes pending records and cursor as one segment. With no
	// pending records and an unchanged cursor it writes nothing.
	Commit(ctx context.Context, cursor any) error
	// Close releases the container. Uncommitted records are discarded.
	Close() error
}

// Shared sentinel errors sources return (wrapped) so the engine can classify.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
	// ErrOrgCredentials means the organization-wide credentials (service
	// application id/secret, its registration) were refused: every user would
	// fail the same way, so the engine stops instead of trying each one.
	ErrOrgCredentials = errors.New("organization credentials refused")
)

// TokenLifetime is the lifetime Yandex gives service-application tokens.
const TokenLifetime = time.Hour

// RestoreItem is one stored item offered to a Restorer.
type RestoreItem struct {
	Item
	// Open returns the item's body as stored (verified against Item.Hash
	// while read). The caller closes it. It may be called more than once.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Collision policies for restoring into a place that may already hold the item.
const (
	PolicySkip    = "skip"    // an equal item already there is left alone (the default)
	PolicyCopy    = "copy"    // always write another copy
	PolicyReplace = "replace" // overwrite the existing item where the protocol allows
)

// RestoreTarget says where and how a container is restored.
type RestoreTarget struct {
	// Original is the container's name in the backup (a mail folder such as
	// "Archive|2017", a calendar collection, the Disk container).
	Original string
	// Under, when set, makes the restore non-destructive: the container is
	// recreated beneath a new top-level place of this name (a mail folder
	// "Restored 2026-11-25 12h00" holding "Archive|2017" joined with the
	// server's delimiter; a new calendar named after Under and Original; Disk
	// files under "disk:/<Under>/..."). The engine derives Under from the
	// snapshot, so a rerun continues in the same place. Empty = in place.
	Under string
	// Policy is one of PolicySkip, PolicyCopy, PolicyReplace.
	Policy string
	// State is the container's cursor as committed in the backup (the
	// source's own JSON: e.g. a calendar's display name, colour and
	// component set), so a recreated container gets its properties back.
	State json.RawMessage
}

// Restorer is implemented by sources that can write items back into an
// account. RestoreContainer must be idempotent under PolicySkip: a restore cut
// off halfway and run again writes nothing twice (items already at the
// destination are recognised by the source's own identity: mail by Message-Id
// and content hash, calendar objects by UID/href and etag, files by path and
// hash). Per-item failures go to fail and the restore continues.
type Restorer interface {
	RestoreContainer(ctx context.Context, u User, tok TokenSource, t RestoreTarget,
		items []RestoreItem, fail func(item string, err error)) (written int, err error)
}

// SizedReader is a body reader that knows how many bytes it will yield (an
// IMAP literal announces it) and fails if it yields another number. The
// store then stores a body of up to a few MiB in one pass instead of
// spooling it first.
type SizedReader interface {
	io.Reader
	Size() int64
}
