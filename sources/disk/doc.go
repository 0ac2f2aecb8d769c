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
// The package never logs; results go to the Store (Fail, Skip) and errors.
package disk
