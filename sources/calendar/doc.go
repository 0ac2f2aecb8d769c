// Package calendar backs up a user's CalDAV calendars and task lists
// (Yandex Calendar at caldav.yandex.ru; any RFC 4791 server) as the raw
// .ics bytes the server serves.
//
// Discovery: current-user-principal → calendar-home-set (go-webdav's client)
// → one PROPFIND Depth 1 on the home for displayname, resourcetype,
// CS:getctag, Apple calendar-color, supported-calendar-component-set,
// DAV:sync-token and supported-report-set. Every collection whose
// resourcetype is CALDAV:calendar is backed up, whatever its components
// (VEVENT calendars, VTODO task lists). The container name is the
// collection's path below the home ("events-default"), stable across runs;
// display name, color and components ride in the cursor.
//
// Incremental pass per collection (collection.go):
//   - getctag unchanged since the last complete pass → no request at all;
//   - else, with a sync-token and sync-collection advertised → RFC 6578
//     REPORT for changed and deleted hrefs (an invalid token, 403 or 5xx,
//     falls back to a listing);
//   - else PROPFIND Depth 1 for hrefs + etags; members missing from it are
//     deleted.
//
// Changed objects are fetched with calendar-multiget in batches. Item IDs
// are member paths relative to the collection (object names are not always
// the UID). Items are committed along the way; the new ctag/sync-token only
// with the last commit of a pass, and never when an object failed, so an
// interrupted or partly failed pass is redone (etags make the redo cheap).
//
// Byte-exactness (fetch.go, ../internal/dav/multistatus.go): the stored bytes are what a
// GET returns. calendar-data is read from the raw XML, not from the parsed
// text, because XML parsers turn the CRLFs of an unescaped .ics into LFs
// (Radicale 3.1.8 sends them unescaped). The first multiget of a session is
// also compared with a GET of one object; on a mismatch the session falls
// back to one GET per object.
//
// go-webdav v0.6.0 is used for principal and home-set discovery only: its
// multiget and sync calls decode calendar-data into go-ical (losing the
// server's bytes and failing the whole batch on one bad object) and buffer
// whole multistatus bodies. Our own decoder streams one <response> at a time.
//
// Restore (restore*.go): RestoreContainer PUTs the stored bytes unchanged
// to <collection>/<item ID> with Content-Type text/calendar. In place the
// collection is the original path below the user's calendar home
// (recreated with MKCALENDAR, component set from the items' metadata, when
// gone); non-destructive it is "restored-<hash of Under and Original>",
// displayed as "<Under> — <original display name>", so a rerun continues in
// the same collection. What is already there is known from one PROPFIND of
// hrefs and etags and, only if other objects are present, their UIDs by
// calendar-multiget. Policies: skip (If-None-Match: *, 412 or
// no-uid-conflict = already there), replace (If-Match: listed etag; an
// object still at its backed-up href and etag is not rewritten), copy (a
// free "-restored-<n>" name and, if the UID is taken, a derived UID: the only
// bytes a restore ever changes). Up to Config.RestoreWorkers PUTs run at once.
//
// Auth: every request gets "Authorization: OAuth <token>" (or Basic with
// the email and the token as password) from the TokenSource; a 401 is
// retried once with a re-minted token, a second 401 ends the user's run.
package calendar
