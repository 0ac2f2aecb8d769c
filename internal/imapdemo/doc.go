// Package imapdemo is an in-process IMAP server for the demo and for tests. It
// is built on go-imap's imapserver and imapmemserver and behaves like Yandex
// Mail where that matters to a backup client:
//
//   - authentication is AUTHENTICATE XOAUTH2 (and PLAIN/LOGIN with the token as
//     the password), checked by a caller-supplied ValidateFunc; a refused
//     XOAUTH2 token gets a base64 JSON challenge and then
//     NO [AUTHENTICATIONFAILED], as Yandex and Dovecot do;
//   - the hierarchy delimiter is "|" (configurable) and folder names go over the
//     wire in modified UTF-7, so Cyrillic names such as "Отправленные" work;
//   - LIST reports special-use attributes (\Sent, \Junk, \Trash, \Drafts)
//     without advertising SPECIAL-USE, and missing parents as \Noselect;
//   - the capability list is close to Yandex's (no CONDSTORE, no QRESYNC, no
//     ESEARCH). imapserver itself always adds SASL-IR and LITERAL-, which
//     Yandex does not advertise.
//
// A user's mailbox (INBOX plus localized special folders) is created on first
// login or on first use by a seeding helper (CreateFolder, Append, SetFlags,
// Expunge, DeleteFolder); SeedSample fills a mailbox with a deterministic
// sample for the demo. Hooks (Options.OnSelect, Options.OnFetch,
// Options.OnAppend) let tests refuse a SELECT, FETCH or APPEND or drop the
// connection in the middle of a run; Options.AppendLimit advertises and
// enforces APPENDLIMIT, Options.PermanentFlags changes what SELECT says may
// be stored. An APPEND whose literal is cut short (the client went away) is
// discarded, as real servers do (imapserver alone would store the part).
//
// Limitations inherited from imapmemserver: message bodies live in memory and
// a FETCH of BODY[] copies the whole message, so do not serve very large
// messages from the same process whose memory you measure.
package imapdemo
