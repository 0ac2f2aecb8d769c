package lease

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

const (
	// Exclusive is the name of the exclusive (maintenance) lock, for List and
	// Break; AcquireExclusive takes it.
	Exclusive = "exclusive"

	rootPrefix     = "leases/"
	epochDigits    = 20 // a uint64 in decimal; zero padding makes keys sort numerically
	hbInfix        = ".hb-"
	releasedSuffix = ".released"
	maxNameLen     = 512 // leaves room for the epoch and heartbeat suffix within 1024
)

// safeSeg: the segments the repository itself uses for user keys and sources.
// No dots, so no segment can look like "<epoch>.released".
var safeSeg = regexp.MustCompile(`^[0-9A-Za-z_-]{1,128}$`)

// ValidName reports why name cannot name a lease, or nil. A name is one or
// more "/"-separated segments of ASCII letters, digits, "_" and "-"; a segment
// of exactly 20 digits is refused because it would collide with a claim
// object of the shorter name (leases/a/<epoch> is a file, leases/a/<20
// digits>/ would have to be a directory), and the first segment may not be
// "exclusive", which is the exclusive lock's.
func ValidName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("lease name %.40q: must be 1 to %d bytes", name, maxNameLen)
	}
	for i, seg := range strings.Split(name, "/") {
		switch {
		case !safeSeg.MatchString(seg):
			return fmt.Errorf("lease name %q: segment %q: want 1-128 of [0-9A-Za-z_-]", name, seg)
		case isEpoch(seg):
			return fmt.Errorf("lease name %q: segment %q: 20 digits would collide with a claim object", name, seg)
		case i == 0 && seg == Exclusive:
			return fmt.Errorf("lease name %q: %q is reserved for the exclusive lock", name, Exclusive)
		}
	}
	return nil
}

// validTarget accepts the names List and Break may see: lease names and the
// exclusive lock.
func validTarget(name string) error {
	if name == Exclusive {
		return nil
	}
	return ValidName(name)
}

func isEpoch(s string) bool {
	if len(s) != epochDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func prefixOf(name string) string { return rootPrefix + name + "/" }

func claimKey(name string, epoch uint64) string {
	return fmt.Sprintf("%s%020d", prefixOf(name), epoch)
}

func hbKey(name string, epoch, seq uint64) string {
	return fmt.Sprintf("%s%020d%s%020d", prefixOf(name), epoch, hbInfix, seq)
}

func releasedKey(name string, epoch uint64) string {
	return claimKey(name, epoch) + releasedSuffix
}

type objKind int

const (
	kindClaim objKind = iota
	kindHeartbeat
	kindReleased
)

// parseRel parses an object name inside a lease's prefix. Unknown names are
// ignored rather than rejected, so a newer version may add object kinds.
func parseRel(rel string) (epoch uint64, kind objKind, ok bool) {
	if len(rel) < epochDigits || !isEpoch(rel[:epochDigits]) {
		return 0, 0, false
	}
	epoch, err := strconv.ParseUint(rel[:epochDigits], 10, 64)
	if err != nil || epoch == 0 { // overflow, or the never-used epoch 0
		return 0, 0, false
	}
	switch rest := rel[epochDigits:]; {
	case rest == "":
		return epoch, kindClaim, true
	case rest == releasedSuffix:
		return epoch, kindReleased, true
	case strings.HasPrefix(rest, hbInfix) && isEpoch(rest[len(hbInfix):]):
		return epoch, kindHeartbeat, true
	}
	return 0, 0, false
}
