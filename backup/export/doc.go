// Package export writes a snapshot's items to local files without touching
// any account: mail as Maildir, mbox (mboxrd) or .eml files, calendar objects
// as one .ics each plus a merged .ics per calendar (with its display name and
// calendar-level properties), contacts as one .vcf each plus a merged .vcf per
// address book, the organization's objects as JSON and CSV, Disk files as a
// tree. The output is an empty directory, a single .tar.zst, or a tar stream.
// Every name is made safe on any filesystem reversibly (EscapeName: %XX for
// what cannot stay), names that would still coincide get ~N, so two
// containers never share a place, and y360backup-manifest.jsonl at the top
// maps each container's original name (and a calendar's display name) to
// where it was written. The stored bytes are written unchanged.
package export
