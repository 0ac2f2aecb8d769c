// Package org backs up the organization itself, once per run: the
// Directory's users (full profiles), departments, groups and their members,
// domains; shared and delegated mailboxes with the accounts that may open
// them; the mail routing rules; every user's forwards, autoreplies and sender
// info; and the service-application list.
//
// Each object kind is one container of the organization's pseudo-user (the
// engine gives it the stable ID "org"); each item is one object, stored as
// the exact JSON bytes the API returned, keyed by the object's id. Bodies are
// content-addressed, so an unchanged organization stores nothing new: an item
// whose bytes hash as before is not even uploaded again, and a container with
// no change commits no segment.
//
// A listing that fails part-way is recorded (Store.Fail) and what was read is
// kept; objects not seen in an incomplete listing are not marked deleted. A
// kind the admin token may not read (403) is recorded as a skip naming the
// scope it needs, so a token without, say, the service-application scope
// does not turn every run partial.
//
// Restoring these objects is out of scope; Plan (plan.go) prints the API
// calls that would recreate what is missing, for a person to review. Diff
// (diff.go) tells who joined or left which group or department between two
// states. API paths and their status against the docs: docs/org.md.
package org
