package y360emu

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"time"
)

// Seed helpers put files on a user's Disk directly (no HTTP). user is a uid
// or an email (unknown emails get their own disk, which tokens minted for
// that email see). Missing parent folders are created. mtime is the file's
// "modified" (zero = now).

// DiskPutFile stores data at p, replacing any file there.
func (s *Server) DiskPutFile(user, p string, data []byte, mtime time.Time) error {
	return s.diskPut(user, p, bytesContent(data), mtime)
}

// DiskPutGenerated stores a file of size bytes whose content is generated
// from seed on the fly (same seed and size = same bytes), so multi-gigabyte
// files cost no memory. Its md5/sha256 are computed by streaming it once,
// when first listed or asked for, and cached.
func (s *Server) DiskPutGenerated(user, p string, size, seed int64, mtime time.Time) error {
	if size < 0 {
		return fmt.Errorf("y360emu: disk: negative size %d for %s", size, p)
	}
	return s.diskPut(user, p, generatedContent(size, seed), mtime)
}

func (s *Server) diskPut(user, p string, c *diskContent, mtime time.Time) error {
	names, err := parseDiskPath("path", p, "disk")
	if err != nil {
		return fmt.Errorf("y360emu: disk: put %s: %w", p, err)
	}
	key := s.diskKey(user)
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := s.now()
	ud := ds.userDiskLocked(key, now)
	if len(names) == 0 {
		return fmt.Errorf("y360emu: disk: put %s: not a file path", p)
	}
	if err := ud.mkdirAll(names[:len(names)-1], now); err != nil {
		return fmt.Errorf("y360emu: disk: put %s: %w", p, err)
	}
	if err := ud.putFile(names, c, mtime, now, true); err != nil {
		return fmt.Errorf("y360emu: disk: put %s: %w", p, err)
	}
	return nil
}

// DiskMkdir creates the folder p and any missing parents.
func (s *Server) DiskMkdir(user, p string) error {
	return s.diskEdit(user, "mkdir", p, func(ud *userDisk, names []string, now time.Time) error {
		return ud.mkdirAll(names, now)
	})
}

// DiskRemove deletes p, to the trash unless permanently.
func (s *Server) DiskRemove(user, p string, permanently bool) error {
	return s.diskEdit(user, "remove", p, func(ud *userDisk, names []string, now time.Time) error {
		return ud.remove(names, permanently, now)
	})
}

// DiskMove moves from → to (to's parent folders are created), keeping the
// resource_id, as the real move does.
func (s *Server) DiskMove(user, from, to string) error {
	dst, err := parseDiskPath("path", to, "disk")
	if err != nil {
		return fmt.Errorf("y360emu: disk: move to %s: %w", to, err)
	}
	return s.diskEdit(user, "move", from, func(ud *userDisk, names []string, now time.Time) error {
		if len(dst) == 0 {
			return errDiskField("path", "cannot move onto the root")
		}
		if err := ud.mkdirAll(dst[:len(dst)-1], now); err != nil {
			return err
		}
		return ud.transfer(names, dst, false, false, now)
	})
}

// DiskTouch changes only the "modified" time of the file or folder at p.
func (s *Server) DiskTouch(user, p string, mtime time.Time) error {
	return s.diskEdit(user, "touch", p, func(ud *userDisk, names []string, now time.Time) error {
		n := ud.lookup(names)
		if n == nil {
			return errDiskNotFound()
		}
		n.modified = mtime
		n.revision = ud.touch()
		return nil
	})
}

func (s *Server) diskEdit(user, op, p string, fn func(*userDisk, []string, time.Time) error) error {
	names, err := parseDiskPath("path", p, "disk")
	if err != nil {
		return fmt.Errorf("y360emu: disk: %s %s: %w", op, p, err)
	}
	key := s.diskKey(user)
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := s.now()
	if err := fn(ds.userDiskLocked(key, now), names, now); err != nil {
		return fmt.Errorf("y360emu: disk: %s %s: %w", op, p, err)
	}
	return nil
}

// DiskFileInfo describes a file as the emulator holds it (for assertions).
type DiskFileInfo struct {
	Path     string // "disk:/a/b"
	Size     int64
	MD5      string
	SHA256   string
	Modified time.Time
	// Properties are its custom_properties (nil when none).
	Properties map[string]any
}

// DiskStat returns the file at p (hashing it first if it was generated and
// never hashed).
func (s *Server) DiskStat(user, p string) (DiskFileInfo, bool) {
	c, fi, ok := s.diskFile(user, p)
	if !ok {
		return DiskFileInfo{}, false
	}
	fi.MD5, fi.SHA256 = c.sums()
	return fi, true
}

// DiskOpen streams the true content of the file at p (no faults applied).
func (s *Server) DiskOpen(user, p string) (io.Reader, int64, error) {
	c, _, ok := s.diskFile(user, p)
	if !ok {
		return nil, 0, fmt.Errorf("y360emu: disk: open %s: %w", p, errDiskNotFound())
	}
	return c.reader(0), c.size, nil
}

func (s *Server) diskFile(user, p string) (*diskContent, DiskFileInfo, bool) {
	names, err := parseDiskPath("path", p, "disk")
	if err != nil {
		return nil, DiskFileInfo{}, false
	}
	key := s.diskKey(user)
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	ud := ds.users[key]
	if ud == nil {
		return nil, DiskFileInfo{}, false
	}
	n := ud.lookup(names)
	if n == nil || n.dir {
		return nil, DiskFileInfo{}, false
	}
	return n.content, DiskFileInfo{Path: "disk:" + joinDiskPath(names), Size: n.content.size, Modified: n.modified,
		Properties: maps.Clone(n.props)}, true
}

// DiskFiles lists the paths of every file of user ("disk:/a/b"), sorted.
func (s *Server) DiskFiles(user string) []string {
	key := s.diskKey(user)
	ds := s.disk()
	ds.mu.Lock()
	defer ds.mu.Unlock()
	ud := ds.users[key]
	if ud == nil {
		return nil
	}
	es := append([]diskEntry(nil), ud.flatFiles()...)
	_ = sortDiskEntries(es, "path")
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = "disk:" + e.path
	}
	return out
}

// SeedDemoDisk gives user a small, realistic Disk for the demo: nested
// folders, Unicode and awkward names, and one generated file of largeSize
// bytes (0 = none). Contents are deterministic.
func (s *Server) SeedDemoDisk(user string, largeSize int64) error {
	t0 := time.Date(2025, 1, 15, 9, 30, 0, 0, time.UTC)
	files := []struct{ path, body string }{
		{"/Документы/Отчёт за 2024.txt", "Годовой отчёт: всё хорошо.\n"},
		{"/Документы/Договоры/договор №17.pdf", "%PDF-1.4 demo contract\n"},
		{"/Documents/notes.md", "# Notes\n\n- back up everything\n"},
		{"/Documents/Project plan (final) v2.docx", "PK demo docx\n"},
		{"/Фотокамера/2024-07-01 12-00-00.jpg", "\xff\xd8\xff\xe0 demo jpeg"},
		{"/Фотокамера/Отпуск/море 🌊.jpg", "\xff\xd8\xff\xe0 sea"},
		{"/Музыка/日本語の歌.mp3", "ID3 demo"},
		{"/..hidden/...", "dots only"},
		{"/Загрузки/a b  c.zip", "PK\x03\x04 spaces"},
		{"/deep/a/b/c/d/e/f/g/h/leaf.json", `{"deep":true}` + "\n"},
		{"/" + strings.Repeat("д", 100) + ".txt", "long Cyrillic name\n"},
	}
	for i, f := range files {
		if err := s.DiskPutFile(user, f.path, []byte(f.body), t0.Add(time.Duration(i)*time.Hour)); err != nil {
			return err
		}
	}
	if err := s.DiskMkdir(user, "/Пустая папка"); err != nil {
		return err
	}
	if largeSize > 0 {
		if err := s.DiskPutGenerated(user, "/Видео/большой файл.mp4", largeSize, 42, t0); err != nil {
			return err
		}
	}
	return nil
}
