package pack

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
)

// BlobType says what a blob holds; it is the entry's first byte.
type BlobType uint8

// The blob types. 0 is invalid on purpose, so a zeroed entry is never valid.
const (
	Data      BlobType = 1 // an item body, or one chunk of a large body
	Tree      BlobType = 2 // metadata
	ChunkList BlobType = 3 // the chunks of a large body; id = SHA-256 of the whole body
	Data64    BlobType = 4 // as Data, stored through the b64lines transform before compression
)

// Valid reports whether t is one of the defined types.
func (t BlobType) Valid() bool { return t >= Data && t <= Data64 }

func (t BlobType) String() string {
	switch t {
	case Data:
		return "data"
	case Tree:
		return "tree"
	case ChunkList:
		return "chunklist"
	case Data64:
		return "data64"
	}
	return fmt.Sprintf("BlobType(%d)", uint8(t))
}

// ID names a blob or a pack: a SHA-256.
type ID [32]byte

// idSize is len(ID{}), untyped so the size constants below mix with int64
// and uint64; the assignment fails to compile if the two ever differ.
const idSize = sha256.Size

var _ [idSize]byte = ID{}

// Hash is the ID of b: its SHA-256.
func Hash(b []byte) ID { return sha256.Sum256(b) }

// String is the id in lowercase hex, the form used in keys and logs.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses the 64 hex digits String produces.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("pack: id %q: %d characters, want %d", s, len(s), 2*len(id))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("pack: id %q: %w", s, err)
	}
	return id, nil
}

// Entry locates one blob in a pack.
type Entry struct {
	Type      BlobType
	ID        ID
	Offset    uint64 // from the start of the pack
	Length    uint64 // stored bytes, as found in the pack
	RawLength uint64 // bytes before compression (and, later, encryption)
}

// Sizes and bounds of the format.
const (
	// TrailerSize is the size of the fixed trailer at the end of every pack.
	TrailerSize = 16
	// MaxHeaderSize bounds what a reader allocates for a header it has not
	// checked yet. A full-size pack (~16 MiB of small blobs) needs a few
	// MiB at most.
	MaxHeaderSize = 64 << 20
	// MaxEntries bounds the blobs in one pack. It is chosen so that the
	// header of a pack with MaxEntries maximal entries still fits in
	// MaxHeaderSize (checked below at compile time): a Writer that obeys
	// MaxEntries never writes a header a reader would refuse.
	MaxEntries = 1 << 20
)

// Version is the header version this package writes and reads.
const Version = 1

const (
	headerMagic  = "Y3PH"
	trailerMagic = "Y360PAK2"
	// minEntrySize is an entry whose three uvarints are one byte each; a
	// header of count entries has at least count*minEntrySize bytes after
	// its prefix, which bounds count before anything is allocated.
	minEntrySize = 1 + idSize + 3
	// maxEntrySize is an entry whose three uvarints are ten bytes each.
	maxEntrySize = 1 + idSize + 3*maxUvarintLen
	// minHeaderSize is magic (4 bytes), version and a one-byte count.
	minHeaderSize = 4 + 1 + 1
	maxUvarintLen = binary.MaxVarintLen64
)

// A pack with MaxEntries entries of the largest encoding fits in
// MaxHeaderSize; the conversion fails to compile if someone raises
// MaxEntries past that.
const _ = uint(MaxHeaderSize - (4 + 1 + maxUvarintLen + MaxEntries*maxEntrySize))

// castagnoli is CRC-32C, the checksum in the trailer.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is what every validation error of a header or trailer matches
// (errors.Is), so a caller can tell a damaged pack from a failed read.
var ErrCorrupt = errors.New("pack is corrupt")

// corruptError is a validation error: its message says what is wrong, and
// it matches ErrCorrupt.
type corruptError struct{ msg string }

func (e *corruptError) Error() string        { return e.msg }
func (e *corruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}
