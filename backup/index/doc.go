// Package index is the blob index of repository format 2: which pack holds a
// blob, at what offset and length.
//
// Two parts live here:
//
//   - The codec of the repository's remote index files (format.go). The
//     repository stores each one, write-once, under index/<hex SHA-256 of the
//     file>. A file is a zstd stream of
//
//     "Y3IX" | version 1 | records until EOF
//     record:  pack id [32] | count uvarint | count × entry
//     entry:   type byte | blob id [32] | offset uvarint | length uvarint | rawLength uvarint
//
//     ended by a terminator record, a zero pack id with count 0. A stream that
//     stops before the terminator is truncated and refused, so a partial
//     upload or a short read can never pass for a smaller, complete index.
//
//   - A local cache of the whole index on disk (cache.go), built from those
//     files and from the packs the running process has just uploaded. A dedup
//     lookup is one point read in a pebble LSM tree behind a fixed-size block
//     cache, so it needs neither the whole index in RAM nor a request per
//     item, and the process's memory does not grow with the repository. The
//     cache holds nothing that the repository lacks: it can always be deleted
//     and rebuilt by ingesting every index file again.
//
// This package does not import the pack layer; ID and Location are defined
// here and convert to the pack package's types field by field.
package index
