// Package contacts backs up a user's CardDAV address books (Yandex at
// carddav.yandex.ru; any RFC 6352 server) as the raw vCard bytes the server
// serves, and restores them by PUT.
//
// Yandex, as far as public sources tell (Yandex's own carddav.py in
// abugrin/Yandex360Tools, a public probe in bizyumov/yandex-office): HTTP
// Basic with the email as login and the exchanged service-application token
// as password; home /addressbook/{email}/ with book 1/ (personal) and 2/
// (shared); items vCard 3.0 "{uuid}.vcf"; besides PROPFIND, GET
// <book>/?op=ls answers {"list":[{"fileName","etag"}]}. The scope is
// probably addressbook:all (unconfirmed: configurable).
//
// Discovery: the home comes from Config.Home ({email} replaced; no request)
// or, when empty, current-user-principal → addressbook-home-set (go-webdav's
// client). One PROPFIND Depth 1 on the home finds every collection whose
// resourcetype is CARDDAV:addressbook; its path below the home ("1", "2") is
// the container name, its display name rides in the cursor.
//
// Incremental pass per book (book.go), as in sources/calendar:
//   - getctag unchanged since the last complete pass → no request;
//   - else sync-collection when the book advertises it and we hold a token
//     (an invalid token falls back to a listing);
//   - else a listing: PROPFIND Depth 1 (default) or Yandex's ?op=ls JSON
//     (Config.Listing "ls"); stored items not listed are deleted. A listing
//     that does not decode, or names a member outside the book, fails the
//     book and deletes nothing.
//
// Fetch (fetch.go): every member whose etag differs is fetched by GET and
// streamed into the repository unchanged; only UID and the BEGIN/END frame
// are read on the way (vcard.go, bounded per line), so a 5 MB contact with a
// photo is never held in memory. There is no addressbook-multiget on
// purpose: one GET per changed card keeps bytes exact and memory flat.
//
// Restore (restore.go): PUT of the stored bytes, streamed, to
// <book>/<item ID>; in place into the original book (recreated with an
// extended MKCOL when gone), else into "restored-<hash>" named "<Under> —
// <display name>". Policies skip / replace / copy as for calendars; copy
// is the only path that changes bytes (a derived UID on a new name).
//
// Shared WebDAV plumbing (auth, multistatus decoding, member listing,
// sync-collection, PUT) lives in sources/internal/dav with the calendar
// source.
package contacts
