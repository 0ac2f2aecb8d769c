// Package disk backs up users' Yandex Disk files over the Disk REST API
// (docs/yandex-api.md §3).
//
// Each user's Disk is one container, "disk". (Per-top-level-folder
// containers were considered: the flat listing interleaves folders, so every
// container would be open at once, and a move across top-level folders
// would split into two segments that commit separately. One container keeps
// a move atomic and the cursor trivial.) An item's ID is the Disk path as the
// API writes it ("disk:/a/b.txt"); its Meta is a JSON Meta. Paths are only
// IDs and metadata — the repository keys bodies by hash — so any Unicode,
// spaces, "..."-looking or 255-character names round-trip untouched.
//
// A run:
//
//  1. Lists every file, by default with the flat GET /v1/disk/resources/files
//     paged until a short page (Config.Listing = "tree" walks folders with
//     /v1/disk/resources instead). Pages overlap by one item so a listing
//     that shifted while it was read is noticed; then a second pass runs
//     and deletions wait for a pass that held still.
//  2. Skips a file whose size and sha256 (or md5) equal the stored item's
//     (metadata-only changes update Meta). A file whose sha256 body is
//     already stored (moved, copied, or stored by a run that died before
//     committing) is recorded without downloading.
//  3. Otherwise streams the body from the download host straight into
//     Container.PutBody through a reader that verifies size and sha256 (md5
//     when no sha256 is given); a mismatch is ErrChecksum: st.Fail names the
//     path and nothing is recorded. A body that breaks mid-way is resumed
//     with "Range: bytes=N-" (a stalled one is cut and resumed too), asking
//     for a fresh link when the old one expired, a bounded number of times.
//  4. Files answering 423 DiskResourceLockedError are retried after the
//     listing, LockedWait apart, then failed by name. Files over MaxFileSize
//     or outside the include/exclude globs are st.Skip'ed with the reason;
//     they are not treated as deleted.
//  5. Records as deleted the live items the listing no longer has, commits
//     whenever Container.Due and at the end.
//
// Politeness: every request goes through a y360.Doer (a token bucket per
// host: Config.RPS for the API host, Config.DownloadRPS for the download
// host; retries of 429/5xx/network errors with exponential back-off and
// jitter, honouring Retry-After; never once ctx is done). On 401 the token
// is invalidated and the request retried once with a fresh one; a second
// 401 ends the user's run.
//
// # Restore
//
// Source also implements sources.Restorer (restore*.go). RestoreContainer
// uploads the selected files of a snapshot back to a Disk — the user's own
// or, with the engine's ToUser, another's:
//
//   - Destination: in place (RestoreTarget.Under empty) each file goes to
//     its original path; otherwise to "disk:/<Under>/<original path>", e.g.
//     "disk:/Restored 2026-11-25 12h00/Документы/a.txt". Under comes from the
//     snapshot, so a rerun continues in the same place.
//   - Upload: GET /v1/disk/resources/upload?path=&overwrite= for a link,
//     then PUT of the stored bytes to it, streamed from the repository with
//     Content-Length = Item.Size (never whole in memory). The last byte is
//     held back until the repository reader has verified the object, so a
//     corrupt object is never stored as a complete file. 201 = done; 202 =
//     accepted, and GET /v1/disk/operations/{id} is polled (100 ms doubling
//     to 5 s, up to 30 min) until "success" or "failed". A stalled body
//     (StallTimeout without the connection taking bytes), a link that died
//     (404/410) or a failed operation gets a fresh link, twice at most; if
//     the earlier attempt landed after all, the file is recognised by its
//     content instead of being written again.
//   - Folders: a link answered 409 DiskPathDoesntExistsError makes the
//     restore create the missing folders one level per PUT
//     /v1/disk/resources (409 DiskPathPointsToExistentDirectoryError means
//     it exists: fine), then ask again. Folders that exist cost nothing.
//   - Modified time: the API cannot set a file's "modified", which becomes
//     the time of the restore. The original (Meta.Modified, or
//     Meta.OriginalModified when the backed-up file was itself restored) is
//     stored with PATCH /v1/disk/resources as the custom property
//     Config.ModifiedProperty ("y360backup_modified"; rclone does the same
//     with "rclone_modified"). Backups read it back into
//     Meta.OriginalModified. The PATCH answers the resource, whose size and
//     sha256 are checked against the item at no extra cost.
//   - Policies, with a file "the same" when size and sha256 (or md5) match:
//     skip (default) asks for the link with overwrite=false; a 409 "exists"
//     leads to one look at what is there: the same file counts as restored,
//     another file (or a folder) is left alone and reported through fail
//     as ErrConflict ("exists with other content ... use --policy replace
//     or copy"). replace looks first (except in a folder this restore just
//     created), leaves an identical file alone and overwrites anything else
//     (never a folder). copy never overwrites: a taken path sends the file to
//     "name (restored N).ext", the first N free and not the path of another
//     file being restored; a path already holding the same content counts as
//     the copy. So every policy is idempotent: a restore cut off and run
//     again uploads nothing twice (a file uploaded but not yet patched gets
//     its property on the rerun).
//   - Politeness: API calls go through the same Doer as backups (Config.RPS,
//     retries of 429/5xx with back-off, one re-mint on 401), uploads through
//     the transfer Doer (Config.DownloadRPS, its own bucket for the upload
//     host; bodies re-read from the repository for each retry). The upload
//     PUT carries no OAuth token: the href is a signed, single-use link.
//     Config.RestoreWorkers files are in flight at once.
//   - Failures: per-file problems go to fail and the restore goes on. The
//     container stops on a token refused after a re-mint, on ctx, and on 507
//     Insufficient Storage (ErrInsufficientStorage, naming the file that did
//     not fit: every later upload would fail the same way).
//
// Requests per restored file: upload link, PUT, PATCH (three; two with
// ModifiedProperty "-"), plus two per missing folder. With the default
// RPS of 10 on the API host that caps a restore of small files at about 5
// files/s (backups: about DownloadRPS files/s); big files are bound by
// bandwidth. Restores need the cloud_api:disk.write scope.
//
// The package never logs; results go to the Store (Fail, Skip) and errors.
package disk
