package export

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/y360backup/y360backup/backup"
)

// Mail formats.
const (
	Maildir = "maildir"
	Mbox    = "mbox"
	EML     = "eml"
)

// Options configure an export.
type Options struct {
	// Out is a directory (created; must be empty unless Force), a file name
	// ending in ".tar.zst", or "-": an uncompressed tar stream to Stream.
	Out string
	// MailFormat is Maildir (default), Mbox or EML.
	MailFormat string
	// Force exports into a directory that already holds files (existing
	// files are still never overwritten: those items fail).
	Force bool
	// Stream receives the tar stream when Out is "-".
	Stream io.Writer
}

// ManifestName is the file, at the top of every export, that maps each
// container's original name to where it was written (one JSON object per
// line, a ManifestEntry).
const ManifestName = "y360backup-manifest.jsonl"

// ManifestEntry is one line of the manifest.
type ManifestEntry struct {
	User        string `json:"user"`
	UserID      string `json:"user_id"`
	Source      string `json:"source"`
	Container   string `json:"container"`              // the name as backed up
	DisplayName string `json:"display_name,omitempty"` // a calendar's name as its owner sees it
	Path        string `json:"path"`                   // relative to the export's top
	Items       int    `json:"items"`
}

// Report says what was exported.
type Report struct {
	Containers int      `json:"containers"`
	Items      int      `json:"items"`
	Bytes      int64    `json:"bytes"`
	Failed     int      `json:"failed"`
	Failures   []string `json:"failures,omitempty"`
}

// meta is the union of the metadata fields export uses.
type meta struct {
	Flags    []string  `json:"flags"`
	Date     time.Time `json:"date"`
	Modified time.Time `json:"modified"`
	Path     string    `json:"path"`
	UID      uint32    `json:"uid"`
}

// Export writes the selected items of snap to opts.Out.
func Export(ctx context.Context, repo *backup.Repository, snap *backup.Snapshot, sel backup.Selection, opts Options) (*Report, error) {
	if opts.MailFormat == "" {
		opts.MailFormat = Maildir
	}
	switch opts.MailFormat {
	case Maildir, Mbox, EML:
	default:
		return nil, fmt.Errorf("export: mail format %q: use maildir, mbox or eml", opts.MailFormat)
	}
	out, err := openOutput(opts)
	if err != nil {
		return nil, err
	}
	mf, err := out.create(ManifestName, -1, time.Now())
	if err != nil {
		out.close()
		return nil, err
	}
	e := &exporter{repo: repo, out: out, opts: opts, rep: &Report{}, names: map[string]uniq{},
		paths: newNamer(), manifest: json.NewEncoder(mf)}
	err = repo.Select(ctx, snap, sel, e.container)
	if cerr := mf.Close(); err == nil {
		err = cerr
	}
	if cerr := out.close(); err == nil {
		err = cerr
	}
	return e.rep, err
}

type exporter struct {
	repo     *backup.Repository
	out      output
	opts     Options
	rep      *Report
	names    map[string]uniq // item file names, per directory
	paths    *namer          // container paths
	manifest *json.Encoder
}

func (e *exporter) uniqIn(dir string) uniq {
	u := e.names[dir]
	if u == nil {
		u = uniq{}
		e.names[dir] = u
	}
	return u
}

func (e *exporter) fail(sc backup.SelectedContainer, id string, err error) {
	e.rep.Failed++
	if len(e.rep.Failures) < 200 {
		e.rep.Failures = append(e.rep.Failures, fmt.Sprintf("%s %s %q %s: %v", sc.User.Email, sc.Source, sc.Head.Name, id, err))
	}
}

func (e *exporter) container(sc backup.SelectedContainer) error {
	e.rep.Containers++
	base := SafeName(sc.User.Email) + "/" + SafeName(sc.Source)
	entry := ManifestEntry{User: sc.User.Email, UserID: sc.User.ID, Source: sc.Source, Container: sc.Head.Name, Items: len(sc.Items)}
	var err error
	switch sc.Source {
	case "mail":
		entry.Path, err = e.mail(base, sc)
	case "calendar":
		entry.DisplayName = displayName(sc)
		entry.Path, err = e.calendar(base, sc, entry.DisplayName)
	case "disk":
		entry.Path, err = base, e.disk(base, sc)
	case "org":
		entry.Path = e.paths.dir(base, []string{sc.Head.Name})
		err = e.org(entry.Path, sc)
	case "contacts":
		entry.Path = e.paths.dir(base, []string{sc.Head.Name})
		err = e.contacts(entry.Path, sc)
	default:
		entry.Path = e.paths.dir(base, []string{sc.Head.Name})
		err = e.plain(entry.Path, sc)
	}
	if merr := e.manifest.Encode(entry); err == nil {
		err = merr
	}
	return err
}

// hierarchy splits a mail folder name on the delimiters servers use.
func hierarchy(name string) []string {
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '|' || r == '/' })
	if len(parts) == 0 {
		return []string{name}
	}
	return parts
}

// sibling is the path of a file next to directory dir: dir + ext, or a
// fresh name if that is taken.
func (e *exporter) sibling(dir, ext string) string {
	return e.paths.file(path.Dir(dir), path.Base(dir), ext)
}

// copyItem writes one item's bytes through fn's writer, verifying the hash.
func (e *exporter) copyItem(ctx context.Context, it backup.ItemView, w io.Writer) error {
	rc, err := e.repo.OpenObject(ctx, it.Hash)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// file writes one item as one file.
func (e *exporter) file(sc backup.SelectedContainer, p string, it backup.ItemView, mtime time.Time) {
	w, err := e.out.create(p, it.Size, mtime)
	if err == nil {
		err = e.copyItem(context.Background(), it, w)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		e.fail(sc, it.ID, err)
		return
	}
	e.rep.Items++
	e.rep.Bytes += it.Size
}

func parseMeta(it backup.ItemView) meta {
	var m meta
	_ = json.Unmarshal(it.Meta, &m)
	return m
}

// maildirFlags maps IMAP flags to Maildir info letters, sorted as the spec asks.
func maildirFlags(flags []string) string {
	letters := map[string]byte{`\Draft`: 'D', `\Flagged`: 'F', `$Forwarded`: 'P', `\Answered`: 'R', `\Seen`: 'S', `\Deleted`: 'T'}
	var out []byte
	for _, f := range flags {
		for k, l := range letters {
			if strings.EqualFold(f, k) {
				out = append(out, l)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return string(out)
}

// mail writes a folder; child folders nest in their parent's directory
// (named so a child called cur, new or tmp cannot land in the Maildir).
func (e *exporter) mail(base string, sc backup.SelectedContainer) (string, error) {
	if e.opts.MailFormat == Mbox {
		p := e.sibling(e.paths.dir(base, hierarchy(sc.Head.Name)), ".mbox")
		return p, e.mbox(p, sc)
	}
	dir := e.paths.dir(base, hierarchy(sc.Head.Name), "cur", "new", "tmp")
	switch e.opts.MailFormat {
	case Maildir:
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := e.out.mkdir(dir + "/" + sub); err != nil {
				return dir, err
			}
		}
		for _, it := range sc.Items {
			m := parseMeta(it)
			name := fmt.Sprintf("%d.%s.y360backup:2,%s", m.Date.Unix(), SafeName(strings.ReplaceAll(it.ID, "/", "_")), maildirFlags(m.Flags))
			// The name is built from digits, the ID and flag letters only; the
			// ":2," info separator is what Maildir readers expect.
			e.file(sc, dir+"/cur/"+name, it, m.Date)
		}
	case EML:
		u := e.uniqIn(dir)
		for _, it := range sc.Items {
			m := parseMeta(it)
			e.file(sc, dir+"/"+u.name(SafeName(strings.ReplaceAll(it.ID, "/", "_")), ".eml"), it, m.Date)
		}
	}
	return dir, nil
}

// mbox writes one mboxrd file: "From " separator lines, and any line that
// starts with ">*From " gets one more ">" (so readers can undo it exactly).
func (e *exporter) mbox(p string, sc backup.SelectedContainer) error {
	w, err := e.out.create(p, -1, time.Time{})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, it := range sc.Items {
		m := parseMeta(it)
		date := m.Date
		if date.IsZero() {
			date = time.Unix(0, 0)
		}
		fmt.Fprintf(bw, "From MAILER-DAEMON %s\n", date.UTC().Format("Mon Jan _2 15:04:05 2006"))
		if err := e.mboxBody(it, bw); err != nil {
			e.fail(sc, it.ID, err)
			continue
		}
		e.rep.Items++
		e.rep.Bytes += it.Size
	}
	if err := bw.Flush(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func (e *exporter) mboxBody(it backup.ItemView, bw *bufio.Writer) error {
	rc, err := e.repo.OpenObject(context.Background(), it.Hash)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	last := byte('\n')
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				bw.WriteByte('>')
			}
			bw.Write(line)
			last = line[len(line)-1]
		}
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: write the rest verbatim.
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				bw.Write(line)
				if len(line) > 0 {
					last = line[len(line)-1]
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if last != '\n' {
		bw.WriteByte('\n')
	}
	return bw.WriteByte('\n')
}

// calendar writes one .ics per object under the collection's name and a
// merged .ics next to it that carries the display name (X-WR-CALNAME).
func (e *exporter) calendar(base string, sc backup.SelectedContainer, display string) (string, error) {
	dir := e.paths.dir(base, []string{sc.Head.Name})
	u := e.uniqIn(dir)
	merged := newMerger()
	merged.name = cmp.Or(display, sc.Head.Name)
	for _, it := range sc.Items {
		name := path.Base(it.ID)
		name = strings.TrimSuffix(name, ".ics")
		e.file(sc, dir+"/"+u.name(SafeName(name), ".ics"), it, time.Time{})
		if it.Size <= maxMergeObject {
			var buf bytes.Buffer
			if err := e.copyItem(context.Background(), it, &buf); err == nil {
				merged.add(buf.Bytes())
			}
		}
	}
	w, err := e.out.create(e.sibling(dir, ".ics"), -1, time.Time{})
	if err != nil {
		return dir, err
	}
	if err := merged.write(w); err != nil {
		w.Close()
		return dir, err
	}
	return dir, w.Close()
}

// displayName is a calendar's name as its owner sees it, from the cursor
// the calendar source stores ("" when it has none).
func displayName(sc backup.SelectedContainer) string {
	var c struct {
		DisplayName string `json:"displayname"`
	}
	_ = json.Unmarshal(sc.State, &c)
	return c.DisplayName
}

func (e *exporter) disk(base string, sc backup.SelectedContainer) error {
	for _, it := range sc.Items {
		m := parseMeta(it)
		p := m.Path
		if p == "" {
			p = it.ID
		}
		p = strings.TrimPrefix(p, "disk:")
		parts := strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
		for i := range parts {
			parts[i] = EscapeName(parts[i])
		}
		if len(parts) == 0 {
			parts = []string{"_"}
		}
		e.file(sc, base+"/"+strings.Join(parts, "/"), it, m.Modified)
	}
	return nil
}

func (e *exporter) plain(dir string, sc backup.SelectedContainer) error {
	u := e.uniqIn(dir)
	for _, it := range sc.Items {
		e.file(sc, dir+"/"+u.name(SafeName(it.ID), ""), it, time.Time{})
	}
	return nil
}
