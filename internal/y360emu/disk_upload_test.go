package y360emu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// uploadLink asks for an upload link and returns href and operation id.
func (e *diskEnv) uploadLink(t *testing.T, p string, overwrite bool) (href, op string) {
	t.Helper()
	ow := "false"
	if overwrite {
		ow = "true"
	}
	r := e.get(t, "/v1/disk/resources/upload", "path", p, "overwrite", ow)
	if r.status != http.StatusOK {
		t.Fatalf("upload link %s: %d %s", p, r.status, r.raw)
	}
	href, _ = r.body["href"].(string)
	op, _ = r.body["operation_id"].(string)
	return href, op
}

func (e *diskEnv) patch(t *testing.T, p, body string, kv ...string) diskReply {
	t.Helper()
	return e.do(t, http.MethodPatch, e.url("/v1/disk/resources", append([]string{"path", p}, kv...)...), e.tok, nil, strings.NewReader(body))
}

func TestDiskCustomProperties(t *testing.T) {
	e := newDiskEnv(t)
	if err := e.s.DiskPutFile(diskUser, "/Docs/a.txt", []byte("abc"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	r := e.patch(t, "/Docs/a.txt", `{"custom_properties":{"y360backup_modified":"2020-01-02T03:04:05+00:00","n":7,"gone":"x"},"name":"ignored"}`)
	props, _ := r.body["custom_properties"].(map[string]any)
	if r.status != http.StatusOK || r.body["path"] != "disk:/Docs/a.txt" || r.body["sha256"] == "" || len(props) != 3 || props["n"] != float64(7) {
		t.Fatalf("PATCH: %d %s", r.status, r.raw)
	}
	// Merge: set one, delete one with null, keep the other.
	r = e.patch(t, "/Docs/a.txt", `{"custom_properties":{"n":"eight","gone":null}}`, "fields", "custom_properties,size")
	if r.status != http.StatusOK || string(r.raw) != `{"custom_properties":{"n":"eight","y360backup_modified":"2020-01-02T03:04:05+00:00"},"size":3}`+"\n" {
		t.Fatalf("merge: %d %s", r.status, r.raw)
	}
	// Visible in every listing and to the seed helpers.
	r = e.get(t, "/v1/disk/resources/files", "fields", "items.path,items.custom_properties")
	if its := diskItems(t, r.body["items"]); len(its) != 1 || its[0]["custom_properties"].(map[string]any)["n"] != "eight" {
		t.Fatalf("flat list: %s", r.raw)
	}
	r = e.get(t, "/v1/disk/resources", "path", "/Docs", "fields", "_embedded.items.custom_properties")
	if !strings.Contains(string(r.raw), `"y360backup_modified":"2020-01-02T03:04:05+00:00"`) {
		t.Fatalf("folder listing: %s", r.raw)
	}
	if fi, _ := e.s.DiskStat(diskUser, "/Docs/a.txt"); fi.Properties["n"] != "eight" || len(fi.Properties) != 2 {
		t.Fatalf("DiskStat properties %v", fi.Properties)
	}
	// A new version of the file (overwriting upload) starts without them.
	href, _ := e.uploadLink(t, "/Docs/a.txt", true)
	if r := e.do(t, http.MethodPut, href, "", nil, strings.NewReader("new")); r.status != http.StatusCreated {
		t.Fatalf("PUT: %d", r.status)
	}
	if fi, _ := e.s.DiskStat(diskUser, "/Docs/a.txt"); fi.Properties != nil {
		t.Fatalf("overwritten file kept properties %v", fi.Properties)
	}

	tests := []struct {
		name, path, body string
		status           int
		errName          string
	}{
		{"missing file", "/nope.txt", `{"custom_properties":{"a":"b"}}`, 404, "DiskNotFoundError"},
		{"nested value", "/Docs/a.txt", `{"custom_properties":{"a":{"b":1}}}`, 400, "FieldValidationError"},
		{"array value", "/Docs/a.txt", `{"custom_properties":{"a":[1]}}`, 400, "FieldValidationError"},
		{"not JSON", "/Docs/a.txt", `custom_properties=1`, 400, "FieldValidationError"},
		{"over 1024 characters", "/Docs/a.txt", `{"custom_properties":{"a":"` + strings.Repeat("x", 1020) + `"}}`, 400, "FieldValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantDiskError(t, e.patch(t, tc.path, tc.body), tc.status, tc.errName)
		})
	}
	ro := e.s.MintToken(diskUser, scopeDiskRead)
	if r := e.do(t, http.MethodPatch, e.url("/v1/disk/resources", "path", "/Docs/a.txt"), ro, nil, strings.NewReader(`{"custom_properties":{"a":"b"}}`)); r.status != http.StatusForbidden {
		t.Fatalf("PATCH with a read-only token: %d", r.status)
	}
}

func TestDiskQuota507(t *testing.T) {
	e := newDiskEnv(t)
	if err := e.s.DiskPutFile(diskUser, "/have.bin", bytes.Repeat([]byte("h"), 60), time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.s.SetDiskTotalSpace(diskUser, 100)
	if r := e.get(t, "/v1/disk"); r.body["total_space"] != float64(100) || r.body["used_space"] != float64(60) {
		t.Fatalf("disk info: %s", r.raw)
	}
	// Fits: 60 + 40.
	href, _ := e.uploadLink(t, "/fits.bin", false)
	if r := e.do(t, http.MethodPut, href, "", nil, bytes.NewReader(make([]byte, 40))); r.status != http.StatusCreated {
		t.Fatalf("PUT that fits: %d %s", r.status, r.raw)
	}
	// Full now: the link itself is refused.
	wantDiskError(t, e.get(t, "/v1/disk/resources/upload", "path", "/more.bin"), 507, "InsufficientStorageError")
	// Overwriting frees the old bytes: 40 → 30 fits, 40 → 41 does not
	// (announced by Content-Length, refused before the body is read; the
	// link is then spent).
	e.s.SetDiskTotalSpace(diskUser, 101)
	href, op := e.uploadLink(t, "/fits.bin", true)
	wantDiskError(t, e.do(t, http.MethodPut, href, "", nil, bytes.NewReader(make([]byte, 42))), 507, "InsufficientStorageError")
	if r := e.get(t, "/v1/disk/operations/"+op); r.body["status"] != "failed" {
		t.Fatalf("operation after 507: %s", r.raw)
	}
	if r := e.do(t, http.MethodPut, href, "", nil, bytes.NewReader(make([]byte, 30))); r.status != http.StatusNotFound {
		t.Fatalf("spent link: %d", r.status)
	}
	href, _ = e.uploadLink(t, "/fits.bin", true)
	if r := e.do(t, http.MethodPut, href, "", nil, bytes.NewReader(make([]byte, 30))); r.status != http.StatusCreated {
		t.Fatalf("overwrite that fits: %d %s", r.status, r.raw)
	}
	// Files in the trash still take space.
	if err := e.s.DiskRemove(diskUser, "/have.bin", false); err != nil {
		t.Fatal(err)
	}
	e.s.SetDiskTotalSpace(diskUser, 90) // 30 on the Disk + 60 in the trash
	wantDiskError(t, e.get(t, "/v1/disk/resources/upload", "path", "/x.bin"), 507, "InsufficientStorageError")
	e.s.SetDiskTotalSpace(diskUser, 0)
	if r := e.get(t, "/v1/disk/resources/upload", "path", "/x.bin"); r.status != http.StatusOK {
		t.Fatalf("quota removed: %d", r.status)
	}
}

// A chunked upload (no Content-Length) that turns out too big is refused
// after the body: the space is checked at the end too.
func TestDiskQuotaCheckedAfterBody(t *testing.T) {
	e := newDiskEnv(t)
	e.s.SetDiskTotalSpace(diskUser, 10)
	href, _ := e.uploadLink(t, "/big.bin", false)
	body := io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("!")) // no length known
	wantDiskError(t, e.do(t, http.MethodPut, href, "", nil, body), 507, "InsufficientStorageError")
	if _, ok := e.s.DiskStat(diskUser, "/big.bin"); ok {
		t.Fatal("the file was stored")
	}
}

func TestDiskUploadSpoolAndCounts(t *testing.T) {
	e := newDiskEnv(t)
	dir := t.TempDir()
	e.s.SetDiskUploadSpool(dir)
	data := bytes.Repeat([]byte("spooled bytes "), 10000)
	for range 2 {
		href, _ := e.uploadLink(t, "/s.bin", true)
		if r := e.do(t, http.MethodPut, href, "", nil, bytes.NewReader(data)); r.status != http.StatusCreated {
			t.Fatalf("PUT: %d", r.status)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 2 {
		t.Fatalf("spool dir holds %d files (%v), want 2", len(ents), err)
	}
	sum := sha256.Sum256(data)
	fi, ok := e.s.DiskStat(diskUser, "/s.bin")
	if !ok || fi.Size != int64(len(data)) || fi.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("stat %+v", fi)
	}
	href := e.get(t, "/v1/disk/resources/download", "path", "/s.bin").body["href"].(string)
	if r := e.do(t, http.MethodGet, href, "", nil, nil); !bytes.Equal(r.raw, data) {
		t.Fatalf("download of a spooled upload: %d bytes", len(r.raw))
	}
	if r := e.do(t, http.MethodGet, href, "", map[string]string{"Range": "bytes=14-27"}, nil); string(r.raw) != "spooled bytes " {
		t.Fatalf("range of a spooled upload: %q", r.raw)
	}
	if got := e.s.DiskUploadCounts(diskUser); len(got) != 1 || got["disk:/s.bin"] != 2 {
		t.Fatalf("upload counts %v", got)
	}
	e.s.ResetDiskUploadCounts()
	if got := e.s.DiskUploadCounts(diskUser); len(got) != 0 {
		t.Fatalf("after reset %v", got)
	}
}

func TestDiskUploadAsync(t *testing.T) {
	e := newDiskEnv(t)
	e.s.SetDiskUploadAsync(2)
	href, op := e.uploadLink(t, "/later.txt", false)
	if r := e.do(t, http.MethodPut, href, "", nil, strings.NewReader("later")); r.status != http.StatusAccepted {
		t.Fatalf("PUT: %d, want 202", r.status)
	}
	if _, ok := e.s.DiskStat(diskUser, "/later.txt"); ok {
		t.Fatal("file visible before its operation finished")
	}
	if r := e.do(t, http.MethodPut, href, "", nil, strings.NewReader("again")); r.status != http.StatusNotFound {
		t.Fatalf("second PUT while pending: %d", r.status)
	}
	for i, want := range []string{"in-progress", "success", "success"} {
		if r := e.get(t, "/v1/disk/operations/"+op); r.body["status"] != want {
			t.Fatalf("poll %d: %s, want %s", i+1, r.raw, want)
		}
	}
	if fi, ok := e.s.DiskStat(diskUser, "/later.txt"); !ok || fi.Size != 5 {
		t.Fatalf("after success: %+v %v", fi, ok)
	}
}
