// Package pack writes and reads pack files, the storage unit of repository
// format 2: many small blobs travel to the sink as one object, so a backup of
// a million mails costs thousands of PUTs instead of a million, and the
// repository can rebuild its index from the packs alone.
//
// The package knows nothing about sinks, compression or encryption: it lays
// out bytes it is given and validates what it reads back. It is the on-disk
// specification of a pack, written down here:
//
//	pack    = blob* header trailer
//	blob    = the blob's stored bytes, opaque to this package (the caller
//	          passes them already zstd-compressed; later they will also be
//	          encrypted)
//	header  = "Y3PH" | version byte (1) | count uvarint | count × entry
//	entry   = type byte | id [32]byte | offset uvarint | length uvarint | rawLength uvarint
//	trailer = headerLength uint32 LE | CRC-32C (Castagnoli) of the header uint32 LE | "Y360PAK2"
//
// The trailer is 16 bytes at the very end of the pack. Blobs are contiguous
// from offset 0 in the order of the entries; the header immediately follows
// the last blob. uvarint is encoding/binary's unsigned varint, in its minimal
// form (a longer encoding of the same value is refused, so a valid header has
// exactly one encoding and decode→encode gives back the same bytes).
//
// Entry types:
//
//	1 = data blob: an item body, or one chunk of a large body
//	2 = tree blob: metadata
//	3 = chunk list: the list of chunks of a large body; its id is the
//	    SHA-256 of the whole body, not of the list itself
//	0 and every other value are invalid
//
// Rules a valid pack also follows:
//
//   - A pack holds at least one blob: an empty pack has no reason to exist,
//     so the Writer refuses to finish one and the reader refuses to read one.
//   - Every blob has at least one stored byte (a zstd frame is never empty;
//     it is what makes offsets strictly increasing). rawLength, the size
//     before compression, may be anything, 0 included (an empty mail body).
//   - A (type, id) pair appears at most once. The same id may appear under
//     two types: a chunk list's id is the hash of its body, and that exact
//     body may also be stored as a data blob when it is a chunk of a larger
//     body.
//   - The header is at most MaxHeaderSize bytes and has at most MaxEntries
//     entries, so a reader never trusts a size it has not bounded.
//
// A pack's id is the SHA-256 of all of its bytes, blobs, header and trailer.
//
// Reading a pack's table of contents takes two ranged reads: the trailer
// (the last TrailerSize bytes), then the header it locates (ReadHeader).
// The header's CRC catches a damaged header before any of it is believed;
// blobs are checked by their owners (zstd checksums, later AEAD tags).
package pack
