package y360emu

import (
	"cmp"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// diskTimeLayout is how the service writes times: "2019-08-08T09:40:10+00:00".
const diskTimeLayout = "2006-01-02T15:04:05-07:00"

func diskTime(t time.Time) string { return t.UTC().Format(diskTimeLayout) }

// pendingSums is a rendered file resource whose md5/sha256 are filled in
// after the disk lock is released (hashing a generated file streams it).
type pendingSums struct {
	m map[string]any
	c *diskContent
}

// wireNode renders a resource while ds.mu is held. scheme is "disk" or
// "trash"; p is "/a/b"; href, if not empty, becomes the "file" link.
// The returned pendingSums must get fillSums after unlocking.
func wireNode(scheme, p string, n *diskNode, href string, pend *[]pendingSums) map[string]any {
	m := map[string]any{
		"name":        n.name,
		"path":        scheme + ":" + p,
		"created":     diskTime(n.created),
		"modified":    diskTime(n.modified),
		"resource_id": n.resourceID,
		"revision":    n.revision,
		"comment_ids": map[string]any{"private_resource": n.resourceID, "public_resource": n.resourceID},
		"exif":        map[string]any{},
	}
	if n.dir {
		m["type"] = "dir"
	} else {
		m["type"] = "file"
		m["size"] = n.content.size
		m["mime_type"] = diskMimeType(n.name)
		m["media_type"] = diskMediaType(n.name)
		m["antivirus_status"] = "clean"
		if href != "" {
			m["file"] = href
		}
		*pend = append(*pend, pendingSums{m, n.content})
	}
	if len(n.props) > 0 {
		m["custom_properties"] = maps.Clone(n.props) // rendered after ds.mu is released
	}
	if n.originPath != "" {
		m["origin_path"] = n.originPath
		m["deleted"] = diskTime(n.deleted)
	}
	return m
}

// fillSums completes rendered files with their sums (call without ds.mu).
func fillSums(pend []pendingSums) {
	for _, p := range pend {
		md5hex, shahex := p.c.sums()
		p.m["md5"], p.m["sha256"] = md5hex, shahex
	}
}

// fieldSel is a parsed "fields" parameter: comma-separated dotted paths
// ("_embedded.items.path,name"). Arrays are transparent: a selection
// applies to each element.
type fieldSel struct {
	whole bool
	sub   map[string]*fieldSel
}

func parseFields(s string) *fieldSel {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	root := &fieldSel{sub: map[string]*fieldSel{}}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		cur := root
		for _, part := range strings.Split(f, ".") {
			if cur.whole {
				break
			}
			next := cur.sub[part]
			if next == nil {
				next = &fieldSel{sub: map[string]*fieldSel{}}
				cur.sub[part] = next
			}
			cur = next
		}
		cur.whole = true
	}
	return root
}

// apply keeps only the selected fields of v (nil selection = everything).
func (f *fieldSel) apply(v any) any {
	if f == nil || f.whole {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(f.sub))
		for k, sel := range f.sub {
			if val, ok := x[k]; ok {
				out[k] = sel.apply(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = f.apply(e)
		}
		return out
	}
	return v
}

// sortDiskEntries orders entries by key: name|path|created|modified|size,
// "-" prefix = reverse. Ties fall back to the path, so offset paging is stable.
func sortDiskEntries(es []diskEntry, key string) error {
	rev := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	var by func(a, b diskEntry) int
	switch key {
	case "name":
		by = func(a, b diskEntry) int { return strings.Compare(a.n.name, b.n.name) }
	case "path":
		by = func(a, b diskEntry) int { return 0 }
	case "created":
		by = func(a, b diskEntry) int { return a.n.created.Compare(b.n.created) }
	case "modified":
		by = func(a, b diskEntry) int { return a.n.modified.Compare(b.n.modified) }
	case "size":
		by = func(a, b diskEntry) int { return cmp.Compare(entrySize(a), entrySize(b)) }
	default:
		return errDiskField("sort", "unknown sort field "+key)
	}
	slices.SortFunc(es, func(a, b diskEntry) int {
		c := by(a, b)
		if c == 0 {
			c = strings.Compare(a.path, b.path)
		}
		if rev {
			c = -c
		}
		return c
	})
	return nil
}

func entrySize(e diskEntry) int64 {
	if e.n.dir {
		return 0
	}
	return e.n.content.size
}

// diskTypes maps an extension to (mime_type, media_type); media types are
// the service's names (docs/yandex-api.md §3).
var diskTypes = map[string][2]string{
	".txt": {"text/plain", "text"}, ".md": {"text/markdown", "text"}, ".csv": {"text/csv", "spreadsheet"},
	".pdf": {"application/pdf", "document"}, ".doc": {"application/msword", "document"},
	".docx": {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document"},
	".odt":  {"application/vnd.oasis.opendocument.text", "document"},
	".xls":  {"application/vnd.ms-excel", "spreadsheet"},
	".xlsx": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "spreadsheet"},
	".jpg":  {"image/jpeg", "image"}, ".jpeg": {"image/jpeg", "image"}, ".png": {"image/png", "image"},
	".gif": {"image/gif", "image"}, ".heic": {"image/heic", "image"},
	".mp4": {"video/mp4", "video"}, ".mov": {"video/quicktime", "video"}, ".mkv": {"video/x-matroska", "video"},
	".mp3": {"audio/mpeg", "audio"}, ".flac": {"audio/flac", "audio"}, ".wav": {"audio/wav", "audio"},
	".zip": {"application/zip", "compressed"}, ".gz": {"application/gzip", "compressed"},
	".7z": {"application/x-7z-compressed", "compressed"}, ".tar": {"application/x-tar", "compressed"},
	".iso": {"application/x-iso9660-image", "diskimage"}, ".exe": {"application/x-msdownload", "executable"},
	".html": {"text/html", "web"}, ".json": {"application/json", "development"}, ".go": {"text/x-go", "development"},
	".py": {"text/x-python", "development"}, ".bin": {"application/octet-stream", "data"},
}

func diskMimeType(name string) string {
	if t, ok := diskTypes[strings.ToLower(path.Ext(name))]; ok {
		return t[0]
	}
	return "application/octet-stream"
}

func diskMediaType(name string) string {
	if t, ok := diskTypes[strings.ToLower(path.Ext(name))]; ok {
		return t[1]
	}
	return "unknown"
}
