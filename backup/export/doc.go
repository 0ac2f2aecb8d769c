// Package export writes a snapshot's items to local files without touching
// any account: mail as Maildir, mbox (mboxrd) or .eml files, calendar objects
// as one .ics each plus a merged .ics per calendar, contacts as one .vcf
// each plus a merged .vcf per address book, Disk files as a tree. The
// output is a directory or a single .tar.zst. Every name is made safe on any
// filesystem (no separators, reserved names, control characters or over-long
// segments); the stored bytes are written unchanged.
package export
