package backup

import (
	"errors"

	"github.com/y360backup/y360backup/sources"
)

// OrgUserID is the stable ID of the organization's pseudo-user: the entry
// of a snapshot that holds the org-wide sources (RunOptions.OrgSources),
// whose containers are object kinds rather than folders. Real Yandex uids
// are decimal, so it cannot collide with a user. Its lease is that of any
// user ID (bucket of sha256("org")) for its own source names, so it never
// contends with users' leases.
const OrgUserID = "org"

// OrgUser returns the pseudo-user org-wide sources are run for.
func OrgUser() sources.User {
	return sources.User{ID: OrgUserID, Email: OrgUserID, Nickname: "organization", Enabled: true}
}

// wantOrg reports whether this run backs up the organization itself: it
// has org sources and is not restricted to some users (unless one of them
// is OrgUserID).
func wantOrg(opts RunOptions) bool {
	if len(opts.OrgSources) == 0 {
		return false
	}
	if len(opts.Only) == 0 {
		return true
	}
	for _, o := range opts.Only {
		if o == OrgUserID {
			return true
		}
	}
	return false
}

// errOrgRestore answers a restore that names the organization: its objects
// are not written back; a reviewable plan is printed instead.
var errOrgRestore = errors.New("the organization's objects are not restored: `y360backup org plan-restore SNAPSHOT` prints the API calls that would recreate what is missing, for review")
