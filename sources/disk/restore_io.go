package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sources"
	"github.com/y360backup/y360backup/sources/disk/api"
	"github.com/y360backup/y360backup/sources/y360"
)

// The Disk API calls a restore makes. API-host calls go through
// Source.callJSON (the API Doer: rate limit, retries of 429/5xx, one
// re-mint on 401); upload PUTs through the transfer-host Doer, without the
// OAuth token (the href is a signed, single-purpose link).

// Disk error names a restore tells apart (docs/yandex-api.md §3).
const (
	errNameParentMissing = "DiskPathDoesntExistsError"
	errNameDirExists     = "DiskPathPointsToExistentDirectoryError"
	errNameExists        = "DiskResourceAlreadyExistsError"
)

// statFields is what a restore needs to know about a file already there.
const statFields = "path,type,size,md5,sha256,modified,custom_properties"

// Operation polling: first wait, cap, and how long an upload may stay
// "in-progress" (the service hashes big files after the body).
const (
	pollFirst        = 100 * time.Millisecond
	pollMax          = 5 * time.Second
	operationTimeout = 30 * time.Minute
)

// maxUploadAttempts bounds fresh links for one file after a stalled body,
// a link that died, or an operation that failed.
const maxUploadAttempts = 3

// ErrNoWriteScope is a write Disk refused with 403: the service
// application lacks the write scope (cloud_api:disk.write). It stops the
// container's restore: every other file would be refused the same way.
var ErrNoWriteScope = errors.New("Disk refused to write (403): the service application lacks the write scopes restores need; " +
	"run `y360backup setup --restore` to grant them (cloud_api:disk.write)")

// writeRefused wraps a 403 from a write request with ErrNoWriteScope.
func writeRefused(err error) error {
	if isStatus(err, http.StatusForbidden) {
		return fmt.Errorf("%w: %w", ErrNoWriteScope, err)
	}
	return err
}

// errOpFailed is an upload whose operation reported "failed"; the docs say
// to repeat the original request.
var errOpFailed = errors.New("upload operation failed")

func isDiskErr(err error, name string) bool {
	var e *y360.APIError
	return errors.As(err, &e) && e.Name == name
}

func isStatus(err error, status int) bool {
	var e *y360.APIError
	return errors.As(err, &e) && e.Status == status
}

// uploadLink asks where to PUT the bytes of dest. A missing parent folder
// is created (one level per request) and the link asked for again.
func (r *restorer) uploadLink(ctx context.Context, dest string, overwrite bool) (api.UploadLink, error) {
	q := url.Values{"path": {dest}, "overwrite": {strconv.FormatBool(overwrite)}}
	var l api.UploadLink
	err := r.src.callJSON(ctx, r.tok, http.MethodGet, "/v1/disk/resources/upload", q, nil, &l)
	if isDiskErr(err, errNameParentMissing) {
		if err := r.ensureDir(ctx, parentDir(dest)); err != nil {
			return l, err
		}
		err = r.src.callJSON(ctx, r.tok, http.MethodGet, "/v1/disk/resources/upload", q, nil, &l)
	}
	if err != nil {
		return l, fmt.Errorf("upload link: %w", writeRefused(err))
	}
	if l.Href == "" {
		return l, errors.New("upload link: empty href")
	}
	return l, nil
}

// mkdir creates one folder (its parent must exist).
func (r *restorer) mkdir(ctx context.Context, dir string) error {
	return writeRefused(r.src.callJSON(ctx, r.tok, http.MethodPut, "/v1/disk/resources", url.Values{"path": {dir}}, nil, nil))
}

// stat returns what is at p now; a *y360.APIError with IsNotFound when nothing is.
func (r *restorer) stat(ctx context.Context, p string) (api.Resource, error) {
	var res api.Resource
	err := r.src.callJSON(ctx, r.tok, http.MethodGet, "/v1/disk/resources", url.Values{"path": {p}, "fields": {statFields}}, nil, &res)
	return res, err
}

// patchProps sets custom properties on p and returns the resource.
func (r *restorer) patchProps(ctx context.Context, p string, props map[string]any) (api.Resource, error) {
	var res api.Resource
	err := r.src.callJSON(ctx, r.tok, http.MethodPatch, "/v1/disk/resources", url.Values{"path": {p}, "fields": {statFields}},
		api.PropsPatch{CustomProperties: props}, &res)
	return res, err
}

// put sends it's stored bytes to href and returns the status (201 done,
// 202 accepted and still processing). 429/5xx/network failures are retried
// by the Doer, each time with the body opened afresh from the repository.
func (r *restorer) put(ctx context.Context, href string, it sources.RestoreItem) (int, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	dog := &watchdog{d: r.cfg.StallTimeout, cancel: cancel}
	req, err := http.NewRequestWithContext(actx, http.MethodPut, href, http.NoBody)
	if err != nil {
		return 0, fmt.Errorf("bad upload link: %w", errors.Unwrap(err)) // the href may be signed: do not repeat it
	}
	var bodies []*uploadBody // closed here too, in case the transport never got one
	defer func() {
		for _, b := range bodies {
			_ = b.Close()
		}
	}()
	if it.Size > 0 {
		open := func() (io.ReadCloser, error) {
			rc, err := it.Open(actx)
			if err != nil {
				return nil, fmt.Errorf("open stored body: %w", err)
			}
			b := &uploadBody{rc: rc, left: it.Size, dog: dog}
			bodies = append(bodies, b) // GetBody runs on the Doer's goroutine: ours
			return b, nil
		}
		body, err := open()
		if err != nil {
			return 0, err
		}
		req.Body, req.GetBody, req.ContentLength = body, open, it.Size
	}
	resp, err := r.src.dl.Do(actx, req)
	if stalled := dog.stop(); err != nil {
		if stalled && ctx.Err() == nil {
			return 0, fmt.Errorf("%w: the connection took no bytes for %v", errStalled, r.cfg.StallTimeout)
		}
		return 0, redact(err, req.URL.EscapedPath())
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
		return http.StatusCreated, nil
	case http.StatusAccepted:
		return http.StatusAccepted, nil
	}
	return 0, fmt.Errorf("upload answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// waitOperation polls an asynchronous upload until it succeeded or failed.
func (r *restorer) waitOperation(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("upload accepted (202) without an operation to follow")
	}
	deadline := time.Now().Add(operationTimeout)
	for wait := pollFirst; ; wait = min(2*wait, pollMax) {
		var op api.Operation
		if err := r.src.callJSON(ctx, r.tok, http.MethodGet, "/v1/disk/operations/"+url.PathEscape(id), nil, nil, &op); err != nil {
			return fmt.Errorf("upload operation: %w", err)
		}
		switch op.Status {
		case "success":
			return nil
		case "failed":
			return errOpFailed
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("upload operation still %q after %v", op.Status, operationTimeout)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// redactedErr is an error whose text has the upload link's path cut out
// (the path is the link: whoever has it can upload there for a while); it
// still unwraps to the original, so errors.Is/As see the same error.
type redactedErr struct {
	err error
	msg string
}

func (e *redactedErr) Error() string { return e.msg }
func (e *redactedErr) Unwrap() error { return e.err }

func redact(err error, secret string) error {
	if len(secret) < 2 || !strings.Contains(err.Error(), secret) {
		return err
	}
	i := strings.LastIndex(secret, "/")
	return &redactedErr{err: err, msg: strings.ReplaceAll(err.Error(), secret, secret[:i+1]+"…")}
}
