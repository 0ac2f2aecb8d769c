package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/internal/rangeio"
)

// GetRange returns a reader of length bytes of the object from offset, with
// one ranged GET (a HEAD for length 0). The answer's Content-Range is checked
// against the request, because a store may shorten a range that runs past
// the end (RFC 9110 allows it) or ignore Range altogether; the body is read
// through rangeio.Exact, so a connection that drops early fails the read.
func (s *Sink) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := sinks.ValidKey(key); err != nil {
		return nil, fmt.Errorf("s3: get range: %w", err)
	}
	rkey := fmt.Sprintf("%s [%d,+%d)", key, offset, length)
	what := "s3: get range " + rkey
	if err := rangeio.Check(offset, length, -1); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if length == 0 {
		// There is no Range header for zero bytes ("bytes=5-4" is invalid
		// and a store would send the whole object), so only check the key
		// exists and offset is within it.
		out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))})
		if err != nil {
			return nil, s.fail("get range", rkey, err)
		}
		if err := rangeio.Check(offset, 0, aws.ToInt64(out.ContentLength)); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	last := offset + length - 1
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &s.cfg.Bucket,
		Key:    aws.String(s.objectKey(key)),
		Range:  aws.String(fmt.Sprintf("bytes=%d-%d", offset, last)),
	})
	if err != nil {
		return nil, s.fail("get range", rkey, err)
	}
	if err := checkContentRange(aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), offset, length); err != nil {
		out.Body.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return rangeio.Exact(out.Body, length, what), nil
}

// checkContentRange compares a GET's Content-Range (and Content-Length) with
// the range [offset, offset+length) that was asked for.
func checkContentRange(cr string, contentLength, offset, length int64) error {
	first, last, total, ok := parseContentRange(cr)
	switch {
	case !ok && cr != "":
		return fmt.Errorf("the store answered with a malformed Content-Range %q", cr)
	case !ok && offset == 0 && contentLength == length:
		// The store ignored Range and sent the whole object, which is
		// exactly the range asked for.
		return nil
	case !ok:
		return fmt.Errorf("the store ignored the Range header (answered %d bytes without Content-Range)", contentLength)
	case first == offset && last == offset+length-1:
		return nil
	case first == offset && total >= 0 && rangeio.Check(offset, length, total) != nil:
		// Shortened to the object's end: the range runs past it.
		return rangeio.Check(offset, length, total)
	default:
		return fmt.Errorf("the store answered Content-Range %q for bytes %d-%d", cr, offset, offset+length-1)
	}
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL"; total is -1 for "*".
func parseContentRange(cr string) (first, last, total int64, ok bool) {
	rest, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, 0, 0, false
	}
	span, size, ok1 := strings.Cut(rest, "/")
	a, b, ok2 := strings.Cut(span, "-")
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	total, err3 := int64(-1), error(nil)
	if size != "*" {
		total, err3 = strconv.ParseInt(size, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// unsatisfiedSize reads the object's size from a 416 answer's
// Content-Range ("bytes */SIZE"), or returns -1.
func unsatisfiedSize(err error) int64 {
	if n, ok := strings.CutPrefix(responseHeader(err).Get("Content-Range"), "bytes */"); ok {
		if size, err := strconv.ParseInt(n, 10, 64); err == nil && size >= 0 {
			return size
		}
	}
	return -1
}
