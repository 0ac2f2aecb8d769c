// Package mail is the IMAP source: it backs up a user's mailbox from Yandex
// Mail (or any IMAP server) with AUTHENTICATE XOAUTH2, read-only (EXAMINE,
// BODY.PEEK), one connection per user.
//
// # Containers and items
//
// Every selectable folder from LIST "" "*" is one container, named by its
// full folder name decoded from modified UTF-7 with the server's delimiter
// ("INBOX", "Отправленные", "Archive|2017" at Yandex, "Archive/2017" at
// Dovecot). Folders are chosen with Config.IncludeFolders/ExcludeFolders
// (globs on the name, or LIST attributes such as \Junk). A container whose
// folder is no longer listed is removed from the store.
//
// An item is one message: ID "<uidvalidity>/<uid>", body = the exact bytes of
// BODY[] (never parsed, so malformed MIME is stored verbatim), Meta =
// {"uid","flags","date" (INTERNALDATE, RFC 3339),"size" (RFC822.SIZE),
// "message_id"}.
//
// # Incremental runs
//
// Per folder the cursor (committed with the items) holds UIDVALIDITY, the
// highest UID done, HIGHESTMODSEQ when the server has CONDSTORE, and a short
// list of UIDs that failed. A run:
//
//  1. EXAMINEs the folder. If UIDVALIDITY changed, the container is Reset and
//     the folder listed again; a message whose (size, INTERNALDATE,
//     Message-Id) matches an old item is re-recorded with the old body hash
//     without downloading it (see rematch.go).
//  2. Streams UID FETCH 1:<last> (FLAGS) and compares with the container:
//     changed flags → SetMeta, UIDs no longer listed → Delete. With CONDSTORE
//     (used only when advertised; Yandex does not) an unchanged HIGHESTMODSEQ
//     and message count skip this FETCH, and CHANGEDSINCE narrows it.
//  3. Retries earlier failures, then fetches UIDs above <last> (found with
//     UID SEARCH, skipped when UIDNEXT shows nothing new) in batches of
//     Config.BatchSize, one FETCH at a time (see fetch.go for why). Each
//     message's BODY.PEEK[] is streamed from the connection into
//     Container.PutBody: memory does not grow with message size.
//  4. Commits whenever Container.Due says so (after a message) and at the end.
//
// # Failures
//
// A message a batch does not deliver (FETCH answered NO, or no body) enters
// the cursor's failure list at once, so the cursor can move past it, and is
// fetched again alone at the end of the folder; if that fails too it is
// reported with Store.Fail("<folder> uid N") and stays in the list, to be
// retried by the next run (a UID the server no longer has is dropped). More
// than 1000 failures in a folder stop that folder. A folder that cannot be
// selected is reported with Store.Fail and the run goes on.
//
// A dropped connection is re-established (with a fresh token) up to twice per
// folder, continuing from the progress made. Store errors, a connection that
// cannot be re-established and a refused token end the user's run: a token
// refused twice (NO [AUTHENTICATIONFAILED], the token invalidated in between)
// gives an error wrapping sources.ErrUnauthorized. Tokens never appear in
// errors.
//
// # Connection
//
// go-imap has no context: every command runs under an inactivity deadline
// (Config.Timeout) on the net.Conn, and cancelling ctx closes the connection.
// Login (greeting, STARTTLS, AUTHENTICATE) and LIST are done by hand before
// the connection is handed to imapclient; see login.go and list.go for why.
//
// # Restore
//
// Source implements sources.Restorer: RestoreContainer writes the messages of
// one backed-up folder back with APPEND, the stored bytes unchanged, with
// their flags (\Recent dropped, keywords only where PERMANENTFLAGS allows)
// and INTERNALDATE. One connection per call, driven by hand after login
// (wire.go: imapclient cannot send LITERAL+ literals over 4 KB).
//
//   - Destination (restore_dest.go): the original folder in place, or
//     "<Under><delim><original>" ("Restored …|Archive|2017" at Yandex);
//     missing levels are CREATEd one at a time, new names in modified UTF-7.
//   - Index (restore_index.go): one streamed UID FETCH 1:* (UID RFC822.SIZE
//     INTERNALDATE ENVELOPE) of the destination; an item is present when a
//     message with its Message-Id and size is (without Message-Id: same size
//     and INTERNALDATE, and BODY[] hashing to the item's hash).
//   - Policies: skip (default) leaves present messages alone, so a restore
//     cut off halfway and run again appends nothing twice; copy appends
//     everything; replace STOREs the backed-up flags on a present message
//     whose flags differ (equal bytes need no rewrite; a same-Message-Id
//     message of another size is another message and is appended).
//   - APPEND (restore_append.go): pipelined, Config.AppendPipeline deep;
//     LITERAL+ up to 1 MiB when advertised, synchronizing literals above, so
//     a refusal comes before the bytes; APPENDLIMIT honoured. A stored body
//     streams from the repository with its last chunk held back until it
//     has verified (restore_body.go): a corrupt object never reaches the
//     server whole, the connection is dropped instead.
//   - Failures: a refused message (NO) or an unreadable body goes to fail and
//     the restore continues; OVERQUOTA and TRYCREATE end the container. A
//     dropped connection is re-established (the index makes this safe:
//     APPENDs whose answer was lost are found, after a pause that lets the
//     server finish them) as long as each attempt makes progress. A refused
//     token is invalidated and retried once; the error then names the
//     mail:imap_full scope restore needs.
//
// Probe (probe.go) is login + LIST + LOGOUT for the doctor command.
package mail
