package disk

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/y360backup/y360backup/sources/disk/api"
	"github.com/y360backup/y360backup/sources/y360"
)

// itemFields is what the listings are asked to return per item ("fields"
// parameter), keeping pages small.
const itemFields = "path,type,size,md5,sha256,modified,created,mime_type,resource_id,file,custom_properties"

// prefixed returns itemFields with prefix before each ("items.path,...").
func prefixed(prefix string) string {
	fs := strings.Split(itemFields, ",")
	for i := range fs {
		fs[i] = prefix + fs[i]
	}
	return strings.Join(fs, ",")
}

type visitFn func(context.Context, api.Resource) error

// list runs one pass over the user's files in the configured mode and
// reports whether the listing held still while it was read.
func (r *run) list(ctx context.Context, fn visitFn) (stable bool, err error) {
	if r.cfg.Listing == ListTree {
		return r.listTree(ctx, fn)
	}
	fields := prefixed("items.") + ",limit,offset"
	return r.pages(ctx, func(offset, limit int) ([]api.Resource, error) {
		var pg api.FilesPage
		err := r.getJSON(ctx, "/v1/disk/resources/files", url.Values{
			"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}, "fields": {fields},
		}, &pg)
		return pg.Items, err
	}, fn)
}

// pages walks one offset-paged listing until a short page. Consecutive pages
// overlap by one item: when the first item of a page is not the last of the
// previous one, entries were added or removed before the offset while we
// read, so something may have been missed and the pass is not stable. (The
// flat list has no total and no snapshot token to detect this otherwise.)
func (r *run) pages(ctx context.Context, fetch func(offset, limit int) ([]api.Resource, error), fn visitFn) (bool, error) {
	stable := true
	limit := r.cfg.PageSize
	offset := 0
	last := ""
	for {
		items, err := fetch(offset, limit)
		if err != nil {
			return false, err
		}
		prev := last
		n := len(items)
		if n > 0 {
			last = items[n-1].Path
		}
		if offset > 0 {
			if n > 0 && items[0].Path == prev {
				items = items[1:]
			} else {
				stable = false
			}
		}
		for _, it := range items {
			if err := fn(ctx, it); err != nil {
				return false, err
			}
		}
		if n < limit {
			return stable, nil
		}
		offset += n - 1
	}
}

// listTree walks folders depth-first with GET /v1/disk/resources. Folders
// matching an exclude glob are not entered (reported once as skipped).
func (r *run) listTree(ctx context.Context, fn visitFn) (bool, error) {
	const root = "disk:/"
	fields := prefixed("_embedded.items.") + ",_embedded.limit,_embedded.offset"
	stable := true
	dirs := []string{root}
	for len(dirs) > 0 {
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		ok, err := r.pages(ctx, func(offset, limit int) ([]api.Resource, error) {
			var res api.Resource
			err := r.getJSON(ctx, "/v1/disk/resources", url.Values{
				"path": {dir}, "limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)},
				"sort": {"name"}, "fields": {fields},
			}, &res)
			if err != nil || res.Embedded == nil {
				return nil, err
			}
			return res.Embedded.Items, nil
		}, func(ctx context.Context, it api.Resource) error {
			if it.Type != "dir" {
				return fn(ctx, it)
			}
			if matchAny(r.cfg.Exclude, it.Path) {
				if r.skippedDirs == nil {
					r.skippedDirs = map[string]bool{}
				}
				if !r.skippedDirs[it.Path] {
					r.skippedDirs[it.Path] = true
					r.st.Skip(it.Path+"/", "folder excluded by include/exclude globs")
				}
				return nil
			}
			dirs = append(dirs, it.Path)
			return nil
		})
		switch {
		case err != nil && dir != root && y360.IsNotFound(err):
			stable = false // the folder went away while we walked
		case err != nil:
			return false, err
		default:
			stable = stable && ok
		}
	}
	return stable, nil
}
