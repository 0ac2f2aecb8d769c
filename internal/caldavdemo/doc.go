// Package caldavdemo is an in-process CalDAV server for the demo and for
// tests: go-webdav's caldav.Handler over an in-memory, multi-user Backend,
// authenticated the Yandex way ("Authorization: OAuth <token>") or with
// Basic (email + token as password), tokens checked by a callback.
//
// Layout (go-webdav's handler fixes the depth of each kind of resource, so
// Yandex's /principals/users/<email>/ cannot be mirrored exactly):
//
//	/<email>/                         principal
//	/calendars/<email>/               calendar home
//	/calendars/<email>/<name>/        collection: events-default, events-<id>, todos-<id>
//	/calendars/<email>/<name>/<obj>   calendar object (names need not be UIDs)
//
// go-webdav v0.6.0's handler cannot serve extra properties (its PROPFIND
// property table is closed) and answers only calendar-query and
// calendar-multiget REPORTs. This package therefore answers PROPFIND on the
// home and Depth 0 on a collection itself (adding CS:getctag,
// DAV:sync-token, Apple calendar-color, supported-report-set), and the
// RFC 6578 sync-collection REPORT and MKCALENDAR; everything else (principal, listing,
// GET/PUT/DELETE, multiget, query, MKCOL) is go-webdav's.
//
// Like Radicale (and RFC 4791 §5.3.2.1), a PUT whose UID another object of
// the collection already has is refused with 409 CALDAV:no-uid-conflict.
//
// Objects are stored as go-ical re-encodes them (normalized once on PUT, as
// Radicale does), so GET and calendar-multiget return identical bytes.
package caldavdemo
