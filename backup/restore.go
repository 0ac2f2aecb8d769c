package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/y360backup/y360backup/sources"
)

// Selection chooses items out of a snapshot; it is shared by restore, export and ls.
type Selection struct {
	Users      []string  // emails or uids; empty = every user in the snapshot
	Sources    []string  // "mail", "calendar", "disk"; empty = all
	Containers []string  // globs on the container name; empty = all
	Since      time.Time // items dated before are skipped (items without a date are kept)
	Until      time.Time // items dated at or after are skipped
	MessageID  string    // only mail with this Message-Id (angle brackets optional)
}

// SelectedContainer is one container of one user with its selected items.
type SelectedContainer struct {
	User   UserSnapshot
	Source string
	Head   ContainerHead
	Items  []ItemView      // sorted by ID, numbers as numbers ("7/2" before "7/10")
	State  json.RawMessage // the source's cursor as of the snapshot
}

// itemMeta holds the metadata fields the engine filters on; each source
// names them the same way (mail: date, message_id; disk: modified).
type itemMeta struct {
	Date      time.Time `json:"date"`
	Modified  time.Time `json:"modified"`
	MessageID string    `json:"message_id"`
}

func (s Selection) wantUser(u UserSnapshot) bool {
	if len(s.Users) == 0 {
		return true
	}
	for _, w := range s.Users {
		if strings.EqualFold(w, u.Email) || w == u.ID {
			return true
		}
	}
	return false
}

func (s Selection) wantSource(name string) bool {
	if len(s.Sources) == 0 {
		return true
	}
	for _, w := range s.Sources {
		if w == name {
			return true
		}
	}
	return false
}

func (s Selection) wantContainer(name string) bool {
	if len(s.Containers) == 0 {
		return true
	}
	for _, g := range s.Containers {
		if ok, _ := path.Match(g, name); ok || g == name {
			return true
		}
	}
	return false
}

func (s Selection) wantItem(it ItemView) bool {
	if s.Since.IsZero() && s.Until.IsZero() && s.MessageID == "" {
		return true
	}
	var m itemMeta
	_ = json.Unmarshal(it.Meta, &m)
	if s.MessageID != "" && strings.Trim(m.MessageID, "<>") != strings.Trim(s.MessageID, "<>") {
		return false
	}
	d := m.Date
	if d.IsZero() {
		d = m.Modified
	}
	if d.IsZero() {
		return true
	}
	if !s.Since.IsZero() && d.Before(s.Since) {
		return false
	}
	if !s.Until.IsZero() && !d.Before(s.Until) {
		return false
	}
	return true
}

// Select walks the snapshot's containers matching sel, calling fn for each
// non-empty selection. Containers are loaded one at a time.
func (r *Repository) Select(ctx context.Context, snap *Snapshot, sel Selection, fn func(SelectedContainer) error) error {
	users := append([]UserSnapshot(nil), snap.Users...)
	sort.Slice(users, func(i, j int) bool { return users[i].Email < users[j].Email })
	found := map[string]bool{}
	srcSeen, containerSeen := false, false
	for _, u := range users {
		if !sel.wantUser(u) {
			continue
		}
		found[strings.ToLower(u.Email)], found[u.ID] = true, true
		var srcNames []string
		for name := range u.Sources {
			srcNames = append(srcNames, name)
		}
		sort.Strings(srcNames)
		for _, name := range srcNames {
			if !sel.wantSource(name) {
				continue
			}
			srcSeen = true
			heads := u.Sources[name].Containers
			for _, h := range heads {
				if !sel.wantContainer(h.Name) {
					continue
				}
				containerSeen = true
				v, err := r.LoadContainer(ctx, u.ID, name, h)
				if err != nil {
					return fmt.Errorf("%s %s %q: %w", u.Email, name, h.Name, err)
				}
				sc := SelectedContainer{User: u, Source: name, Head: h, State: v.Cursor}
				for _, it := range v.Items {
					if sel.wantItem(it) {
						sc.Items = append(sc.Items, it)
					}
				}
				if len(sc.Items) == 0 {
					continue
				}
				sort.Slice(sc.Items, func(i, j int) bool { return naturalLess(sc.Items[i].ID, sc.Items[j].ID) })
				if err := fn(sc); err != nil {
					return err
				}
			}
		}
	}
	for _, w := range sel.Users {
		if !found[strings.ToLower(w)] && !found[w] {
			return fmt.Errorf("user %q is not in snapshot %s: %w", w, snap.ID, ErrNotFound)
		}
	}
	if len(found) > 0 && len(sel.Sources) > 0 && !srcSeen {
		return fmt.Errorf("no source %s of the selected users in snapshot %s: %w", strings.Join(sel.Sources, ", "), snap.ID, ErrNotFound)
	}
	if len(found) > 0 && len(sel.Containers) > 0 && !containerSeen {
		return fmt.Errorf("no container matching %q in snapshot %s (ls USER lists them): %w", strings.Join(sel.Containers, `", "`), snap.ID, ErrNotFound)
	}
	return nil
}

// RestoreOptions configure a restore into accounts.
type RestoreOptions struct {
	Snapshot  *Snapshot
	Selection Selection
	// ToUser, if set, receives every selected user's items (restore into
	// another account).
	ToUser *sources.User
	// InPlace restores into the original containers; otherwise into
	// "Restored <snapshot time>/..." which overwrites nothing.
	InPlace bool
	Policy  string // sources.PolicySkip (default), PolicyCopy, PolicyReplace
	// Restorers by source name.
	Restorers map[string]sources.Restorer
	Tokens    func(sources.User) sources.TokenSource
	Log       *zap.Logger
}

// RestoreReport says what a restore did.
type RestoreReport struct {
	Containers int      `json:"containers"`
	Items      int      `json:"items"`   // selected
	Written    int      `json:"written"` // written to the account (others existed already)
	Bytes      int64    `json:"bytes"`   // plaintext bytes of selected items
	Failed     int      `json:"failed"`
	Failures   []string `json:"failures,omitempty"`
	Target     string   `json:"target"` // "in place" or the Restored… folder name
}

// RestoreFolderName is the non-destructive destination for a snapshot:
// its time (the one `snapshots` prints) to the second and its short ID, so
// two snapshots never share a destination (a rerun of one restore finds its
// own). It has no '.', ':' or '/': Dovecot's Maildir++ refuses dots in folder
// names, Windows refuses colons, and '/' is a hierarchy separator almost
// everywhere.
func RestoreFolderName(snap *Snapshot) string {
	return "Restored " + snap.Finished.Local().Format("2006-01-02 15h04m05") + " " + ShortID(snap.ID)
}

// ShortID is the first 8 characters of a snapshot ID, as listings show it.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Restore writes the selected items back through the sources' Restorers.
func (r *Repository) Restore(ctx context.Context, opts RestoreOptions) (*RestoreReport, error) {
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Policy == "" {
		opts.Policy = sources.PolicySkip
	}
	rep := &RestoreReport{Target: "in place"}
	under := ""
	if !opts.InPlace {
		under = RestoreFolderName(opts.Snapshot)
		rep.Target = under
	}
	var mu sync.Mutex
	err := r.Select(ctx, opts.Snapshot, opts.Selection, func(sc SelectedContainer) error {
		rs, ok := opts.Restorers[sc.Source]
		if !ok && sc.User.ID == OrgUserID {
			if len(opts.Selection.Users) == 0 {
				return nil // a restore of "everything" restores users' data
			}
			return errOrgRestore
		}
		if !ok {
			return fmt.Errorf("restore of %s is not supported", sc.Source)
		}
		u := sources.User{ID: sc.User.ID, Email: sc.User.Email, Enabled: true}
		if opts.ToUser != nil {
			u = *opts.ToUser
		}
		items := make([]sources.RestoreItem, len(sc.Items))
		for i, it := range sc.Items {
			hash := it.Hash
			items[i] = sources.RestoreItem{
				Item: sources.Item{ID: it.ID, Hash: it.Hash, Size: it.Size, Meta: it.Meta},
				Open: func(ctx context.Context) (io.ReadCloser, error) { return r.OpenObject(ctx, hash) },
			}
			rep.Bytes += it.Size
		}
		rep.Containers++
		rep.Items += len(items)
		fail := func(item string, err error) {
			mu.Lock()
			defer mu.Unlock()
			rep.Failed++
			if len(rep.Failures) < maxReported {
				rep.Failures = append(rep.Failures, fmt.Sprintf("%s %s %q %s: %v", u.Email, sc.Source, sc.Head.Name, item, err))
			}
		}
		n, err := rs.RestoreContainer(ctx, u, opts.Tokens(u), sources.RestoreTarget{
			Original: sc.Head.Name, Under: under, Policy: opts.Policy, State: sc.State}, items, fail)
		rep.Written += n
		log.Info("restored", zap.String("user", u.Email), zap.String("source", sc.Source),
			zap.String("container", sc.Head.Name), zap.Int("items", len(items)), zap.Int("written", n))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fail("(container)", err)
		}
		return nil
	})
	return rep, err
}

// naturalLess orders strings with runs of digits compared as numbers, so
// mail IDs "<uidvalidity>/<uid>" come out in UID (arrival) order.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
