// Package backup is the engine: it owns the repository format, runs backups over
// the organization's users with a worker pool, and records snapshots.
//
// Concepts (see also the README's "Repository format" section):
//
//   - Object: one item body (an email's raw RFC 5322 bytes, an .ics, a file),
//     stored once under objects/<h[:2]>/<h> where h is the hex SHA-256 of the
//     plaintext, zstd-compressed. Identical bodies across users and runs share
//     one object. Objects are write-once.
//   - Container: one mail folder, calendar or drive of one user for one source.
//   - Segment: an append-only, write-once index file for one container,
//     index/<user>/<source>/<ckey>/<seq>[.b|.g].jsonl.zst. It holds records
//     (put, meta, del, reset) and ends with the source's cursor. A segment is
//     the checkpoint: it is written whole or not at all, after every object it
//     references. Replaying a container's segments in seq order gives its state;
//     a base segment (".b") holds the full state so replay starts at the latest
//     base; a gone segment (".g") says the container disappeared at the source.
//   - Snapshot: snapshots/<time>-<run>.json.zst, written when a run ends. It
//     records for every user and container the head seq, so restoring "as of"
//     that run replays each container up to that seq. Segments committed by a
//     run that died without a snapshot are still part of the chain, so the next
//     run resumes from them.
//   - Lock: locks/<run>.json marks a running backup; a second run refuses to
//     start while a live lock exists, and removes locks of dead processes.
package backup
