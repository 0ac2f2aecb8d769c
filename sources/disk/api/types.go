// Package api holds the JSON wire structures of the Yandex Disk REST API
// (cloud-api.yandex.net/v1/disk) that the disk source reads, as described in
// docs/yandex-api.md §3. It has no behaviour. Error bodies are decoded by
// sources/y360 (api.ErrorBody there).
package api

// Resource is one file or folder as GET /v1/disk/resources and
// /v1/disk/resources/files return it. Only the fields the backup uses are
// decoded; times are kept as the server wrote them (ISO 8601).
type Resource struct {
	Name       string `json:"name"`
	Path       string `json:"path"` // "disk:/a/b.txt"
	Type       string `json:"type"` // "file" | "dir"
	Size       int64  `json:"size"`
	MD5        string `json:"md5"`
	SHA256     string `json:"sha256"`
	MimeType   string `json:"mime_type"`
	MediaType  string `json:"media_type"`
	Created    string `json:"created"`
	Modified   string `json:"modified"`
	ResourceID string `json:"resource_id"`
	Revision   int64  `json:"revision"`
	// File is a direct download link, present on file resources. It expires
	// like the href of /resources/download.
	File     string        `json:"file"`
	Embedded *ResourceList `json:"_embedded,omitempty"`
	// CustomProperties are the app-defined attributes set with PATCH
	// (scalar values only).
	CustomProperties map[string]any `json:"custom_properties,omitempty"`
}

// ResourceList is a folder's children page (_embedded of a folder).
type ResourceList struct {
	Items  []Resource `json:"items"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Path   string     `json:"path"`
	Sort   string     `json:"sort"`
	Total  int        `json:"total"`
}

// FilesPage is one page of GET /v1/disk/resources/files. It carries no
// total: clients page until a page comes back short.
type FilesPage struct {
	Items  []Resource `json:"items"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
}

// Link is the {href, method, templated} object of download/upload links,
// created resources and asynchronous operations.
type Link struct {
	Href      string `json:"href"`
	Method    string `json:"method"`
	Templated bool   `json:"templated"`
}

// UploadLink is the answer of GET /v1/disk/resources/upload: where to PUT
// the bytes, and the operation that reports how the upload ended.
type UploadLink struct {
	OperationID string `json:"operation_id"`
	Href        string `json:"href"`
	Method      string `json:"method"`
	Templated   bool   `json:"templated"`
}

// Operation is GET /v1/disk/operations/{id}: "success", "failed" or
// "in-progress".
type Operation struct {
	Status string `json:"status"`
}

// PropsPatch is the body of PATCH /v1/disk/resources. A nil value deletes
// a property.
type PropsPatch struct {
	CustomProperties map[string]any `json:"custom_properties"`
}
