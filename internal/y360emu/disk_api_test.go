package y360emu

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDiskInfoAndAuth(t *testing.T) {
	e := newDiskEnv(t)
	if err := e.s.DiskPutFile(diskUser, "/a.txt", []byte("hello"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DiskPutFile(diskUser, "/gone.txt", []byte("12345678"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DiskRemove(diskUser, "/gone.txt", false); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/v1/disk")
	if r.status != 200 {
		t.Fatalf("GET /v1/disk: %d %s", r.status, r.raw)
	}
	if r.body["used_space"] != float64(5) || r.body["trash_size"] != float64(8) {
		t.Fatalf("used_space/trash_size = %v/%v, want 5/8", r.body["used_space"], r.body["trash_size"])
	}
	for _, k := range []string{"total_space", "system_folders", "user", "revision", "max_file_size"} {
		if _, ok := r.body[k]; !ok {
			t.Errorf("GET /v1/disk lacks %s", k)
		}
	}

	tests := []struct {
		name   string
		tok    string
		status int
		errN   string
	}{
		{"no token", "", 401, "UnauthorizedError"},
		{"garbage token", "y0_emu.nope.nope", 401, "UnauthorizedError"},
		{"no disk scope", e.s.MintToken(diskUser, "mail:imap_ro"), 403, "Forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "GET", e.url("/v1/disk/resources", "path", "/"), tc.tok, nil, nil)
			wantDiskError(t, r, tc.status, tc.errN)
		})
	}
	// A "Bearer" scheme is refused like the real REST APIs do.
	r = e.do(t, "GET", e.url("/v1/disk"), "", map[string]string{"Authorization": "Bearer " + e.tok}, nil)
	wantDiskError(t, r, 401, "UnauthorizedError")
}

func TestDiskUsersAreIsolated(t *testing.T) {
	e := newDiskEnv(t)
	if err := e.s.DiskPutFile("bob@"+DemoDomain, "/bob.txt", []byte("b"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	// An unknown email gets its own disk, seen by a token minted for it.
	if err := e.s.DiskPutFile("Stranger@Example.org", "/s.txt", []byte("s"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/v1/disk/resources/files")
	if n := len(diskItems(t, r.body["items"])); n != 0 {
		t.Fatalf("alice sees %d files of others", n)
	}
	tok := e.s.MintToken("stranger@example.org", scopeDiskRead)
	r = e.do(t, "GET", e.url("/v1/disk/resources/files"), tok, nil, nil)
	if got := diskPaths(diskItems(t, r.body["items"])); !slices.Equal(got, []string{"disk:/s.txt"}) {
		t.Fatalf("stranger sees %v", got)
	}
}

func TestDiskResourcesPagingSortFields(t *testing.T) {
	e := newDiskEnv(t)
	for i := 0; i < 25; i++ {
		body := strings.Repeat("x", 25-i)
		if err := e.s.DiskPutFile(diskUser, fmt.Sprintf("/dir/f%02d.txt", i), []byte(body), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.DiskMkdir(diskUser, "/dir/sub"); err != nil {
		t.Fatal(err)
	}
	// Default limit is 20; total counts every child (files and folders).
	r := e.get(t, "/v1/disk/resources", "path", "disk:/dir")
	emb, _ := r.body["_embedded"].(map[string]any)
	if r.status != 200 || emb == nil {
		t.Fatalf("GET resources: %d %s", r.status, r.raw)
	}
	if len(diskItems(t, emb["items"])) != 20 || emb["total"] != float64(26) || emb["limit"] != float64(20) {
		t.Fatalf("_embedded: %d items, total %v, limit %v", len(diskItems(t, emb["items"])), emb["total"], emb["limit"])
	}
	if r.body["type"] != "dir" || r.body["path"] != "disk:/dir" {
		t.Fatalf("folder resource: %s", r.raw)
	}

	tests := []struct {
		name  string
		kv    []string
		first string
		n     int
	}{
		{"last page", []string{"limit", "10", "offset", "20"}, "disk:/dir/f20.txt", 6},
		{"reverse name", []string{"sort", "-name", "limit", "3"}, "disk:/dir/sub", 3},
		{"by size", []string{"sort", "size", "limit", "2"}, "disk:/dir/sub", 2},
		{"by size desc", []string{"sort", "-size", "limit", "1"}, "disk:/dir/f00.txt", 1},
		{"past the end", []string{"offset", "100"}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(t, "/v1/disk/resources", append([]string{"path", "/dir"}, tc.kv...)...)
			emb, _ := r.body["_embedded"].(map[string]any)
			its := diskItems(t, emb["items"])
			if len(its) != tc.n || (tc.n > 0 && its[0]["path"] != tc.first) {
				t.Fatalf("got %v, want %d starting %s", diskPaths(its), tc.n, tc.first)
			}
		})
	}

	// fields keeps only what was asked for, through arrays.
	r = e.get(t, "/v1/disk/resources", "path", "/dir", "limit", "2", "fields", "_embedded.items.path,_embedded.total")
	emb, _ = r.body["_embedded"].(map[string]any)
	if len(r.body) != 1 || len(emb) != 2 {
		t.Fatalf("fields filter kept %s", r.raw)
	}
	for _, it := range diskItems(t, emb["items"]) {
		if len(it) != 1 || it["path"] == nil {
			t.Fatalf("item fields %v", it)
		}
	}

	errs := []struct {
		name   string
		kv     []string
		status int
		errN   string
	}{
		{"missing path", nil, 400, "FieldValidationError"},
		{"bad sort", []string{"path", "/", "sort", "colour"}, 400, "FieldValidationError"},
		{"bad limit", []string{"path", "/", "limit", "-1"}, 400, "FieldValidationError"},
		{"dot dot", []string{"path", "/dir/../x"}, 400, "FieldValidationError"},
		{"not found", []string{"path", "/nope"}, 404, "DiskNotFoundError"},
		{"name too long", []string{"path", "/" + strings.Repeat("я", 256)}, 400, "FieldValidationError"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			wantDiskError(t, e.get(t, "/v1/disk/resources", tc.kv...), tc.status, tc.errN)
		})
	}
}

func TestDiskFlatFilesList(t *testing.T) {
	e := newDiskEnv(t)
	names := []string{"/b/zeta.txt", "/a/alpha.jpg", "/c/d/Mid.txt", "/root.mp3", "/a/beta.txt", "/x/beta.txt"}
	for _, p := range names {
		if err := e.s.DiskPutFile(diskUser, p, []byte(p), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.DiskMkdir(diskUser, "/empty"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for off := 0; ; off += 4 {
		r := e.get(t, "/v1/disk/resources/files", "limit", "4", "offset", fmt.Sprint(off))
		if _, ok := r.body["total"]; ok {
			t.Fatal("flat list must not carry total")
		}
		its := diskItems(t, r.body["items"])
		for _, it := range its {
			if it["type"] != "file" || it["sha256"] == "" || it["md5"] == "" || it["file"] == nil {
				t.Fatalf("item lacks file fields: %v", it)
			}
		}
		got = append(got, diskPaths(its)...)
		if len(its) < 4 {
			break
		}
	}
	// Alphabetical by name (byte order), ties by path; folders never listed.
	want := []string{"disk:/c/d/Mid.txt", "disk:/a/alpha.jpg", "disk:/a/beta.txt", "disk:/x/beta.txt", "disk:/root.mp3", "disk:/b/zeta.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("flat list %v, want %v", got, want)
	}
	r := e.get(t, "/v1/disk/resources/files", "media_type", "image,audio")
	if got := diskPaths(diskItems(t, r.body["items"])); !slices.Equal(got, []string{"disk:/a/alpha.jpg", "disk:/root.mp3"}) {
		t.Fatalf("media_type filter: %v", got)
	}
}

func TestDiskDownloadHostAndRange(t *testing.T) {
	e := newDiskEnv(t)
	data := []byte("0123456789abcdefghij")
	if err := e.s.DiskPutFile(diskUser, "/Папка/файл с пробелом.txt", data, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/v1/disk/resources/download", "path", "disk:/Папка/файл с пробелом.txt")
	href, _ := r.body["href"].(string)
	if r.status != 200 || r.body["method"] != "GET" || r.body["templated"] != false {
		t.Fatalf("download link: %d %s", r.status, r.raw)
	}
	hu, _ := url.Parse(href)
	au, _ := url.Parse(e.api)
	if hu.Host == au.Host {
		t.Fatalf("href %s is on the API host", hu.Host)
	}

	tests := []struct {
		name, rng string
		status    int
		body      string
		crange    string
	}{
		{"whole", "", 200, string(data), ""},
		{"open range", "bytes=15-", 206, "fghij", "bytes 15-19/20"},
		{"closed range", "bytes=2-4", 206, "234", "bytes 2-4/20"},
		{"suffix", "bytes=-3", 206, "hij", "bytes 17-19/20"},
		{"end clamped", "bytes=18-99", 206, "ij", "bytes 18-19/20"},
		{"multi ignored", "bytes=0-1,5-6", 200, string(data), ""},
		{"unsatisfiable", "bytes=20-", 416, "", "bytes */20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr map[string]string
			if tc.rng != "" {
				hdr = map[string]string{"Range": tc.rng}
			}
			r := e.do(t, "GET", href, "", hdr, nil)
			if r.status != tc.status || r.header.Get("Content-Range") != tc.crange {
				t.Fatalf("status %d range %q, want %d %q", r.status, r.header.Get("Content-Range"), tc.status, tc.crange)
			}
			if tc.status < 300 && string(r.raw) != tc.body {
				t.Fatalf("body %q, want %q", r.raw, tc.body)
			}
		})
	}
	if sent, n := e.s.DiskServed(diskUser, "/Папка/файл с пробелом.txt"); sent != 20+5+3+3+2+20 || n != 6 {
		t.Fatalf("served %d bytes in %d responses", sent, n)
	}

	// A tampered link is refused; an expired one is Gone; a changed file 404s.
	tampered := strings.Replace(href, "rev=", "rev=1", 1)
	if r := e.do(t, "GET", tampered, "", nil, nil); r.status != 403 {
		t.Fatalf("tampered href: %d", r.status)
	}
	e.s.SetDiskDownloadRequiresToken(true)
	if r := e.do(t, "GET", href, "", nil, nil); r.status != 401 {
		t.Fatalf("token required, none sent: %d", r.status)
	}
	if r := e.do(t, "GET", href, e.s.MintToken("bob@"+DemoDomain), nil, nil); r.status != 401 {
		t.Fatalf("token of another user: %d", r.status)
	}
	if r := e.do(t, "GET", href, e.tok, nil, nil); r.status != 200 {
		t.Fatalf("owner token: %d", r.status)
	}
	e.s.SetDiskDownloadRequiresToken(false)
	e.clk.Advance(DefaultDiskHrefLifetime + time.Second)
	if r := e.do(t, "GET", href, "", nil, nil); r.status != 410 {
		t.Fatalf("expired href: %d", r.status)
	}
	e.tok = e.s.MintToken(diskUser, scopeDiskRead) // the old token expired with the clock too
	r = e.get(t, "/v1/disk/resources/download", "path", "/Папка/файл с пробелом.txt")
	fresh, _ := r.body["href"].(string)
	if err := e.s.DiskPutFile(diskUser, "/Папка/файл с пробелом.txt", []byte("new"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantDiskError(t, e.do(t, "GET", fresh, "", nil, nil), 404, "DiskNotFoundError")

	wantDiskError(t, e.get(t, "/v1/disk/resources/download", "path", "/Папка"), 400, "FieldValidationError")
	wantDiskError(t, e.get(t, "/v1/disk/resources/download", "path", "/nope"), 404, "DiskNotFoundError")
}

func TestDiskMkdirUploadOperations(t *testing.T) {
	e := newDiskEnv(t)
	mk := func(p string) diskReply {
		return e.do(t, "PUT", e.url("/v1/disk/resources", "path", p), e.tok, nil, nil)
	}
	wantDiskError(t, mk("/a/b"), 409, "DiskPathDoesntExistsError")
	if r := mk("/a"); r.status != 201 || !strings.Contains(r.body["href"].(string), "/v1/disk/resources?path=disk%3A%2Fa") {
		t.Fatalf("mkdir: %d %s", r.status, r.raw)
	}
	wantDiskError(t, mk("/a"), 409, "DiskPathPointsToExistentDirectoryError")
	if r := mk("/a/b"); r.status != 201 {
		t.Fatalf("mkdir /a/b: %d", r.status)
	}
	// Writes need disk.write.
	ro := e.s.MintToken(diskUser, scopeDiskRead)
	wantDiskError(t, e.do(t, "PUT", e.url("/v1/disk/resources", "path", "/c"), ro, nil, nil), 403, "Forbidden")

	body := []byte("uploaded bytes")
	r := e.get(t, "/v1/disk/resources/upload", "path", "/a/b/up.txt")
	href, _ := r.body["href"].(string)
	opID, _ := r.body["operation_id"].(string)
	if r.status != 200 || r.body["method"] != "PUT" || opID == "" || !strings.HasPrefix(href, e.s.DiskUploadURL()) {
		t.Fatalf("upload link: %d %s", r.status, r.raw)
	}
	if r := e.get(t, "/v1/disk/operations/"+opID); r.body["status"] != "in-progress" {
		t.Fatalf("operation before PUT: %s", r.raw)
	}
	if r := e.do(t, "PUT", href, "", nil, bytes.NewReader(body)); r.status != 201 {
		t.Fatalf("PUT href: %d %s", r.status, r.raw)
	}
	if r := e.get(t, "/v1/disk/operations/"+opID); r.body["status"] != "success" {
		t.Fatalf("operation after PUT: %s", r.raw)
	}
	if r := e.do(t, "PUT", href, "", nil, bytes.NewReader(body)); r.status != 404 {
		t.Fatalf("second PUT to a used href: %d", r.status)
	}
	sum := md5.Sum(body)
	r = e.get(t, "/v1/disk/resources", "path", "/a/b/up.txt")
	if r.body["md5"] != hex.EncodeToString(sum[:]) || r.body["size"] != float64(len(body)) {
		t.Fatalf("uploaded file meta: %s", r.raw)
	}
	wantDiskError(t, e.get(t, "/v1/disk/resources/upload", "path", "/a/b/up.txt"), 409, "DiskResourceAlreadyExistsError")
	if r := e.get(t, "/v1/disk/resources/upload", "path", "/a/b/up.txt", "overwrite", "true"); r.status != 200 {
		t.Fatalf("overwrite link: %d", r.status)
	}
	wantDiskError(t, e.get(t, "/v1/disk/resources/upload", "path", "/zz/up.txt"), 409, "DiskPathDoesntExistsError")
	wantDiskError(t, e.get(t, "/v1/disk/operations/nope"), 404, "DiskOperationNotFoundError")

	e.s.SetDiskMaxUpload(4)
	r = e.get(t, "/v1/disk/resources/upload", "path", "/a/big.bin")
	big, _ := r.body["href"].(string)
	if r := e.do(t, "PUT", big, "", nil, bytes.NewReader(body)); r.status != 413 {
		t.Fatalf("oversized upload: %d", r.status)
	}
}

func TestDiskDeleteTrashRestoreMove(t *testing.T) {
	e := newDiskEnv(t)
	for _, p := range []string{"/d/one.txt", "/d/two.txt", "/keep.txt"} {
		if err := e.s.DiskPutFile(diskUser, p, []byte(p), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	del := func(p string, kv ...string) diskReply {
		return e.do(t, "DELETE", e.url("/v1/disk/resources", append([]string{"path", p}, kv...)...), e.tok, nil, nil)
	}
	if r := del("/d/one.txt"); r.status != 204 {
		t.Fatalf("delete file: %d %s", r.status, r.raw)
	}
	wantDiskError(t, del("/d/one.txt"), 404, "DiskNotFoundError")
	r := del("/d")
	if r.status != 202 {
		t.Fatalf("delete folder: %d", r.status)
	}
	opHref, _ := r.body["href"].(string)
	if r := e.do(t, "GET", opHref, e.tok, nil, nil); r.body["status"] != "success" {
		t.Fatalf("delete operation: %s", r.raw)
	}
	r = e.get(t, "/v1/disk/trash/resources", "path", "trash:/")
	emb, _ := r.body["_embedded"].(map[string]any)
	its := diskItems(t, emb["items"])
	origins := map[string]string{}
	for _, it := range its {
		origins[it["path"].(string)], _ = it["origin_path"].(string)
	}
	if origins["trash:/one.txt"] != "disk:/d/one.txt" || origins["trash:/d"] != "disk:/d" {
		t.Fatalf("trash: %v", origins)
	}
	r = e.do(t, "PUT", e.url("/v1/disk/trash/resources/restore", "path", "trash:/one.txt"), e.tok, nil, nil)
	if r.status != 201 {
		t.Fatalf("restore: %d %s", r.status, r.raw)
	}
	if r := e.get(t, "/v1/disk/resources", "path", "/d/one.txt"); r.status != 200 {
		t.Fatalf("restored file (parent recreated): %d", r.status)
	}
	if r := e.do(t, "DELETE", e.url("/v1/disk/trash/resources"), e.tok, nil, nil); r.status != 204 {
		t.Fatalf("empty trash: %d", r.status)
	}
	if r := e.get(t, "/v1/disk"); r.body["trash_size"] != float64(0) {
		t.Fatalf("trash_size after emptying: %v", r.body["trash_size"])
	}
	if r := del("/keep.txt", "permanently", "true"); r.status != 204 {
		t.Fatalf("permanent delete: %d", r.status)
	}
	r = e.get(t, "/v1/disk/trash/resources", "path", "trash:/")
	emb, _ = r.body["_embedded"].(map[string]any)
	if emb["total"] != float64(0) {
		t.Fatalf("permanent delete went to trash: %s", r.raw)
	}

	// Move keeps the resource id; copy gets a new one.
	before := e.get(t, "/v1/disk/resources", "path", "/d/one.txt").body["resource_id"]
	mv := e.do(t, "POST", e.url("/v1/disk/resources/move", "from", "/d/one.txt", "path", "/moved.txt"), e.tok, nil, nil)
	if mv.status != 201 {
		t.Fatalf("move: %d %s", mv.status, mv.raw)
	}
	after := e.get(t, "/v1/disk/resources", "path", "/moved.txt").body["resource_id"]
	if before == nil || before != after {
		t.Fatalf("resource_id %v → %v across a move", before, after)
	}
	cp := e.do(t, "POST", e.url("/v1/disk/resources/copy", "from", "/moved.txt", "path", "/copy.txt"), e.tok, nil, nil)
	if cp.status != 201 || e.get(t, "/v1/disk/resources", "path", "/copy.txt").body["resource_id"] == after {
		t.Fatalf("copy: %d, same resource id", cp.status)
	}
	wantDiskError(t, e.do(t, "POST", e.url("/v1/disk/resources/move", "from", "/moved.txt", "path", "/copy.txt"), e.tok, nil, nil),
		409, "DiskResourceAlreadyExistsError")
}

func TestDiskAwkwardNamesRoundTrip(t *testing.T) {
	e := newDiskEnv(t)
	long := strings.Repeat("ж", 251) + ".txt" // 255 characters
	names := []string{
		"/..hidden/...", "/a..b/. .", "/Пробел и ёлка/файл 1 (копия).txt", "/日本/テスト 📄.md",
		"/%2F not a slash/x?y#z&.txt", "/" + long,
	}
	for _, p := range names {
		if err := e.s.DiskPutFile(diskUser, p, []byte(p), time.Time{}); err != nil {
			t.Fatalf("put %q: %v", p, err)
		}
	}
	for _, p := range names {
		r := e.get(t, "/v1/disk/resources", "path", "disk:"+p)
		if r.status != 200 || r.body["path"] != "disk:"+p {
			t.Fatalf("meta of %q: %d %s", p, r.status, r.raw)
		}
		href := e.get(t, "/v1/disk/resources/download", "path", p).body["href"].(string)
		if got := e.do(t, "GET", href, "", nil, nil); string(got.raw) != p {
			t.Fatalf("download of %q gave %q", p, got.raw)
		}
	}
	if err := e.s.DiskPutFile(diskUser, "/"+long+"x", nil, time.Time{}); err == nil {
		t.Fatal("a 256-character name was accepted")
	}
}
