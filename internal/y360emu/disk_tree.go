package y360emu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits the real API documents (docs/yandex-api.md §3).
const (
	diskMaxName = 255   // characters per name
	diskMaxPath = 32760 // characters per path
)

// diskNode is a file or folder. Files point at an immutable diskContent, so
// a copy shares bytes and a download in flight keeps the version it started.
type diskNode struct {
	name       string
	dir        bool
	children   map[string]*diskNode // folders only
	content    *diskContent         // files only
	created    time.Time
	modified   time.Time
	resourceID string
	revision   int64
	originPath string    // trash entries: "disk:/..." they came from
	deleted    time.Time // trash entries
	// props are the custom_properties (PATCH /v1/disk/resources). A new
	// version of a file (an overwriting upload) starts without them.
	props map[string]any
}

// userDisk is one user's Disk: the tree under disk:/ and the trash.
type userDisk struct {
	key      string
	root     *diskNode
	trash    *diskNode
	created  time.Time
	revision int64 // bumped on every change; node revisions take its value
	seq      int64 // resource id counter
	files    []diskEntry
}

// diskEntry is a node with its path ("/a/b", no scheme).
type diskEntry struct {
	path string
	n    *diskNode
}

func newUserDisk(key string, now time.Time) *userDisk {
	ud := &userDisk{key: key, created: now, revision: now.UnixMicro()}
	ud.root = &diskNode{name: "disk", dir: true, children: map[string]*diskNode{}, created: now, modified: now}
	ud.trash = &diskNode{name: "trash", dir: true, children: map[string]*diskNode{}, created: now, modified: now}
	ud.root.resourceID = ud.newResourceID("/")
	ud.trash.resourceID = ud.newResourceID("trash:/")
	return ud
}

// diskErr is an API failure with the real error name (docs/yandex-api.md §3).
type diskErr struct {
	status      int
	name        string
	message     string // the Russian text the service sends
	description string // the English one
}

func (e *diskErr) Error() string { return e.name + ": " + e.description }

func errDiskNotFound() *diskErr {
	return &diskErr{http.StatusNotFound, "DiskNotFoundError", "Не удалось найти запрошенный ресурс.", "Resource not found."}
}

func errDiskParentMissing(p string) *diskErr {
	return &diskErr{http.StatusConflict, "DiskPathDoesntExistsError",
		fmt.Sprintf("Указанного пути %q не существует.", p), fmt.Sprintf("Specified path %q doesn't exists.", p)}
}

func errDiskDirExists(p string) *diskErr {
	return &diskErr{http.StatusConflict, "DiskPathPointsToExistentDirectoryError",
		fmt.Sprintf("По указанному пути %q уже существует папка с таким именем.", p),
		fmt.Sprintf("Specified path %q points to existent directory.", p)}
}

func errDiskExists(p string) *diskErr {
	return &diskErr{http.StatusConflict, "DiskResourceAlreadyExistsError",
		fmt.Sprintf("Ресурс %q уже существует.", p), fmt.Sprintf("Resource %q already exists.", p)}
}

func errDiskLocked() *diskErr {
	return &diskErr{http.StatusLocked, "DiskResourceLockedError",
		"Ресурс заблокирован. Возможно, над ним выполняется другая операция.",
		"Resource is locked. Another operation may be in progress."}
}

func errDiskField(field, why string) *diskErr {
	return &diskErr{http.StatusBadRequest, "FieldValidationError",
		fmt.Sprintf("Ошибка проверки поля %q: %s", field, why), fmt.Sprintf("Error validating field %q: %s.", field, why)}
}

func errDiskOpNotFound() *diskErr {
	return &diskErr{http.StatusNotFound, "DiskOperationNotFoundError", "Операция не найдена.", "Operation not found."}
}

// writeDiskErr answers err in the Disk body style; non-diskErr errors are 500s.
func writeDiskErr(w http.ResponseWriter, err error) {
	if e, ok := err.(*diskErr); ok {
		writeDiskError(w, e.status, e.name, e.message, e.description)
		return
	}
	writeDiskError(w, http.StatusInternalServerError, "InternalServerError", "Внутренняя ошибка.", err.Error())
}

// parseDiskPath splits a path of the given scheme ("disk" or "trash") into
// names. The scheme prefix is optional ("/a/b" and "a/b" mean disk:/a/b);
// empty segments collapse; "." and ".." are refused, as are over-long names.
// Names are otherwise opaque: spaces, dots, any Unicode.
func parseDiskPath(field, p, scheme string) ([]string, error) {
	if p == "" {
		return nil, errDiskField(field, "This field is required")
	}
	if utf8.RuneCountInString(p) > diskMaxPath {
		return nil, errDiskField(field, "path is too long")
	}
	if rest, ok := strings.CutPrefix(p, scheme+":"); ok {
		p = rest
	} else if i := strings.Index(p, ":"); i > 0 && !strings.Contains(p[:i], "/") {
		return nil, errDiskNotFound() // another scheme (app:, vd:...) this emulator lacks
	}
	var names []string
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			continue
		case seg == "." || seg == "..":
			return nil, errDiskField(field, "path must not contain . or .. segments")
		case utf8.RuneCountInString(seg) > diskMaxName:
			return nil, errDiskField(field, "name is longer than 255 characters")
		}
		names = append(names, seg)
	}
	return names, nil
}

// joinDiskPath renders names as "/a/b" ("/" for the root).
func joinDiskPath(names []string) string { return "/" + strings.Join(names, "/") }

func (ud *userDisk) newResourceID(p string) string {
	ud.seq++
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", ud.key, p, ud.seq)))
	return ud.key + ":" + hex.EncodeToString(h[:])
}

// touch records a change: a new revision and a stale flat list.
func (ud *userDisk) touch() int64 {
	ud.revision++
	ud.files = nil
	return ud.revision
}

func (ud *userDisk) lookup(names []string) *diskNode { return lookupIn(ud.root, names) }

func lookupIn(n *diskNode, names []string) *diskNode {
	for _, name := range names {
		if n == nil || !n.dir {
			return nil
		}
		n = n.children[name]
	}
	return n
}

// parent returns the folder that would hold names (409 when it is missing).
func (ud *userDisk) parent(names []string) (*diskNode, error) {
	if len(names) == 0 {
		return nil, errDiskField("path", "the root cannot be changed")
	}
	p := ud.lookup(names[:len(names)-1])
	if p == nil || !p.dir {
		return nil, errDiskParentMissing("disk:" + joinDiskPath(names[:len(names)-1]))
	}
	return p, nil
}

// mkdir creates one folder; its parent must exist (one level per call).
func (ud *userDisk) mkdir(names []string, now time.Time) error {
	p, err := ud.parent(names)
	if err != nil {
		return err
	}
	name := names[len(names)-1]
	if old := p.children[name]; old != nil {
		if old.dir {
			return errDiskDirExists("disk:" + joinDiskPath(names))
		}
		return errDiskExists("disk:" + joinDiskPath(names))
	}
	rev := ud.touch()
	p.children[name] = &diskNode{name: name, dir: true, children: map[string]*diskNode{},
		created: now, modified: now, resourceID: ud.newResourceID(joinDiskPath(names)), revision: rev}
	return nil
}

// mkdirAll creates every missing folder of names (seed helpers only).
func (ud *userDisk) mkdirAll(names []string, now time.Time) error {
	for i := 1; i <= len(names); i++ {
		n := ud.lookup(names[:i])
		if n == nil {
			if err := ud.mkdir(names[:i], now); err != nil {
				return err
			}
			continue
		}
		if !n.dir {
			return errDiskExists("disk:" + joinDiskPath(names[:i]))
		}
	}
	return nil
}

// putFile stores c at names. An existing file is replaced only with
// overwrite (keeping its resource_id and created time, as a new version).
func (ud *userDisk) putFile(names []string, c *diskContent, mtime, now time.Time, overwrite bool) error {
	p, err := ud.parent(names)
	if err != nil {
		return err
	}
	name := names[len(names)-1]
	old := p.children[name]
	switch {
	case old != nil && old.dir:
		return errDiskDirExists("disk:" + joinDiskPath(names))
	case old != nil && !overwrite:
		return errDiskExists("disk:" + joinDiskPath(names))
	}
	if mtime.IsZero() {
		mtime = now
	}
	rev := ud.touch()
	n := &diskNode{name: name, content: c, created: now, modified: mtime, revision: rev}
	if old != nil {
		n.created, n.resourceID = old.created, old.resourceID
	} else {
		n.resourceID = ud.newResourceID(joinDiskPath(names))
	}
	p.children[name] = n
	return nil
}

// remove deletes names, to the trash unless permanently.
func (ud *userDisk) remove(names []string, permanently bool, now time.Time) error {
	if len(names) == 0 {
		return errDiskField("path", "the root cannot be deleted")
	}
	n := ud.lookup(names)
	if n == nil {
		return errDiskNotFound()
	}
	p := ud.lookup(names[:len(names)-1])
	delete(p.children, n.name)
	ud.touch()
	if permanently {
		return nil
	}
	n.originPath = "disk:" + joinDiskPath(names)
	n.deleted = now
	n.name = uniqueName(ud.trash, n.name)
	ud.trash.children[n.name] = n
	return nil
}

// uniqueName returns name, or name_N when dir already holds name.
func uniqueName(dir *diskNode, name string) string {
	if dir.children[name] == nil {
		return name
	}
	for i := 1; ; i++ {
		c := name + "_" + strconv.Itoa(i)
		if dir.children[c] == nil {
			return c
		}
	}
}

// transfer moves (or copies) from → to. A move keeps resource ids; a copy
// gets new ones. The target's parent must exist.
func (ud *userDisk) transfer(from, to []string, overwrite, copying bool, now time.Time) error {
	src := ud.lookup(from)
	if src == nil || len(from) == 0 {
		return errDiskNotFound()
	}
	if len(to) >= len(from) && joinDiskPath(to[:len(from)]) == joinDiskPath(from) {
		return errDiskField("path", "cannot move or copy a folder into itself")
	}
	dp, err := ud.parent(to)
	if err != nil {
		return err
	}
	name := to[len(to)-1]
	if old := dp.children[name]; old != nil {
		if !overwrite {
			return errDiskExists("disk:" + joinDiskPath(to))
		}
		delete(dp.children, name)
	}
	rev := ud.touch()
	if copying {
		c := ud.clone(src, joinDiskPath(to), now, rev)
		c.name = name
		dp.children[name] = c
		return nil
	}
	delete(ud.lookup(from[:len(from)-1]).children, src.name)
	src.name, src.revision = name, rev
	dp.children[name] = src
	return nil
}

func (ud *userDisk) clone(n *diskNode, p string, now time.Time, rev int64) *diskNode {
	c := *n
	c.resourceID, c.created, c.revision = ud.newResourceID(p), now, rev
	c.props = maps.Clone(n.props)
	if n.dir {
		c.children = make(map[string]*diskNode, len(n.children))
		for k, ch := range n.children {
			c.children[k] = ud.clone(ch, p+"/"+k, now, rev)
		}
	}
	return &c
}

// restore moves a trash entry back to its origin (or to name in the origin's
// folder), recreating missing parent folders as the real API does.
func (ud *userDisk) restore(trashName, name string, overwrite bool, now time.Time) (string, error) {
	n := ud.trash.children[trashName]
	if n == nil {
		return "", errDiskNotFound()
	}
	names, err := parseDiskPath("path", n.originPath, "disk")
	if err != nil {
		return "", err
	}
	if name != "" {
		names[len(names)-1] = name
	}
	if err := ud.mkdirAll(names[:len(names)-1], now); err != nil {
		return "", err
	}
	p := ud.lookup(names[:len(names)-1])
	last := names[len(names)-1]
	if p.children[last] != nil {
		if !overwrite {
			return "", errDiskExists("disk:" + joinDiskPath(names))
		}
		delete(p.children, last)
	}
	delete(ud.trash.children, trashName)
	n.name, n.originPath, n.deleted = last, "", time.Time{}
	n.revision = ud.touch()
	p.children[last] = n
	return "disk:" + joinDiskPath(names), nil
}

// flatFiles returns every file under disk:/ (cached until the next change).
// The order is by name then path; callers re-sort copies for other orders.
func (ud *userDisk) flatFiles() []diskEntry {
	if ud.files == nil {
		var out []diskEntry
		var walk func(n *diskNode, p string)
		walk = func(n *diskNode, p string) {
			for name, c := range n.children {
				cp := p + "/" + name
				if c.dir {
					walk(c, cp)
				} else {
					out = append(out, diskEntry{cp, c})
				}
			}
		}
		walk(ud.root, "")
		_ = sortDiskEntries(out, "name")
		ud.files = out
	}
	return ud.files
}

// sizes returns the bytes in files under disk:/ and in the trash.
func (ud *userDisk) sizes() (used, trash int64) {
	var sum func(n *diskNode) int64
	sum = func(n *diskNode) int64 {
		if !n.dir {
			return n.content.size
		}
		var t int64
		for _, c := range n.children {
			t += sum(c)
		}
		return t
	}
	return sum(ud.root), sum(ud.trash)
}
