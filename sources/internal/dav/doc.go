// Package dav is the WebDAV plumbing the calendar (CalDAV) and contacts
// (CardDAV) sources share: an authenticating http client that re-mints a
// refused token once, a streaming multistatus decoder that keeps
// calendar-data/address-data byte-exact, the few raw requests go-webdav's
// client has no call for (PROPFIND/REPORT streamed, sync-collection, GET,
// a streaming PUT with preconditions) and href/etag helpers.
package dav
