package backup

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

func newID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sha256sum(b []byte) [32]byte { return sha256.Sum256(b) }
