package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/sinks"
)

// CheckResult is what Check learned about the store.
type CheckResult struct {
	// Probe is the key written and deleted again.
	Probe string
	// ConditionalWrites reports that the store refused to overwrite the
	// probe when asked with If-None-Match: *. When false, the Sink falls
	// back to HEAD before PUT, which cannot stop two concurrent writers.
	ConditionalWrites bool
	// Elapsed is the time the whole round took.
	Elapsed time.Duration
}

// Check proves that the configured credentials can write, read, list and
// delete under the prefix, and whether the store honours conditional writes,
// using a probe object "locks/.probe-<random>". It is meant for the doctor
// command; the error names the step that failed.
func (s *Sink) Check(ctx context.Context) (CheckResult, error) {
	start := time.Now()
	var rnd [8]byte
	rand.Read(rnd[:])
	res := CheckResult{Probe: "locks/.probe-" + hex.EncodeToString(rnd[:])}
	data := []byte("y360backup probe " + res.Probe)

	if err := s.Put(ctx, res.Probe, bytes.NewReader(data), int64(len(data))); err != nil {
		return res, fmt.Errorf("check %s: write: %w", s, err)
	}
	deleted := false
	defer func() {
		if !deleted { // best effort after an earlier step failed
			s.Delete(context.WithoutCancel(ctx), res.Probe)
		}
	}()

	rc, err := s.Get(ctx, res.Probe)
	if err != nil {
		return res, fmt.Errorf("check %s: read: %w", s, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		return res, fmt.Errorf("check %s: read back %d bytes (%v), want the %d written", s, len(got), err, len(data))
	}

	found := false
	if err := s.List(ctx, res.Probe, func(oi sinks.ObjectInfo) error {
		found = found || oi.Key == res.Probe
		return nil
	}); err != nil {
		return res, fmt.Errorf("check %s: list: %w", s, err)
	}
	if !found {
		return res, fmt.Errorf("check %s: list does not show the probe just written", s)
	}

	// Overwrite attempt, always with the header, whatever the Sink believes.
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(res.Probe)),
		Body: bytes.NewReader([]byte("overwritten")), IfNoneMatch: aws.String("*"),
	})
	switch {
	case err == nil || isNotImplemented(err): // ignored or refused
		s.cond.Store(condNo) // from now on: HEAD before PUT
	case errors.Is(s.fail("put", res.Probe, err), sinks.ErrExist):
		res.ConditionalWrites = true
	default:
		return res, fmt.Errorf("check %s: conditional write: %w", s, s.fail("put", res.Probe, err))
	}

	if err := s.Delete(ctx, res.Probe); err != nil {
		return res, fmt.Errorf("check %s: delete: %w", s, err)
	}
	deleted = true
	if _, err := s.Stat(ctx, res.Probe); !errors.Is(err, sinks.ErrNotExist) {
		return res, fmt.Errorf("check %s: probe still there after delete (%v)", s, err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// AbortStale aborts multipart uploads under the prefix started before
// cutoff: leftovers of Puts whose abort could not reach the store (it was
// down, or the process died). Uploads younger than any Put could still be
// running must be left alone, so pass a cutoff well in the past (a day).
// It returns how many were aborted. A bucket lifecycle rule
// (AbortIncompleteMultipartUpload) does the same on the store's side.
func (s *Sink) AbortStale(ctx context.Context, cutoff time.Time) (int, error) {
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{
		Bucket: &s.cfg.Bucket, Prefix: aws.String(s.cfg.Prefix),
	})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, s.fail("list uploads", "", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated == nil || !u.Initiated.Before(cutoff) {
				continue
			}
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.cfg.Bucket, Key: u.Key, UploadId: u.UploadId,
			}); err != nil {
				return n, s.fail("abort upload", aws.ToString(u.Key), err)
			}
			n++
		}
	}
	return n, nil
}
