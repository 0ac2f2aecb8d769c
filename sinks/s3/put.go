package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/y360backup/y360backup/sinks"
)

// Put stores r under key. An object of known size up to PartSize is buffered
// and sent in one PUT; anything larger, or of unknown size beyond the first
// part, goes up as a multipart upload with at most Concurrency part buffers.
// Every part is an in-memory buffer, so the SDK can retry it. Both paths send
// If-None-Match: * so the store itself refuses to replace an existing key
// (sinks.ErrExist); an object only becomes visible when the PUT or the
// CompleteMultipartUpload succeeds, and a failed multipart upload is aborted.
func (s *Sink) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := sinks.ValidKey(key); err != nil {
		return fmt.Errorf("s3: put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %s: %w", key, err)
	}
	r = &ctxReader{ctx: ctx, r: r}
	if size >= 0 && size <= s.cfg.PartSize {
		var buf []byte
		if size < s.cfg.PartSize/4 {
			buf = make([]byte, size) // small objects: the common case, cheap
		} else {
			buf = s.getBuf(s.cfg.PartSize)[:size]
			defer s.putBuf(buf)
		}
		if err := readExactly(r, buf); err != nil {
			return fmt.Errorf("s3: put %s: %w", key, err)
		}
		return s.putSingle(ctx, key, buf)
	}
	partSize := s.cfg.PartSize
	if size > partSize*maxParts { // grow parts so the object fits in 10000
		partSize = (size/maxParts + 1<<20) &^ (1<<20 - 1)
	}
	buf := s.getBuf(partSize)
	n, eof, err := readPart(r, buf)
	if err != nil {
		s.putBuf(buf)
		return fmt.Errorf("s3: put %s: read: %w", key, err)
	}
	if eof { // all of it fit into the first part
		defer s.putBuf(buf)
		if size >= 0 {
			return fmt.Errorf("s3: put %s: reader yielded %d of the declared %d bytes: %w", key, n, size, io.ErrUnexpectedEOF)
		}
		return s.putSingle(ctx, key, buf[:n])
	}
	return s.putMultipart(ctx, key, r, size, buf, partSize)
}

// putSingle sends data in one PutObject.
func (s *Sink) putSingle(ctx context.Context, key string, data []byte) error {
	in := &s3.PutObjectInput{
		Bucket:        &s.cfg.Bucket,
		Key:           aws.String(s.objectKey(key)),
		ContentLength: aws.Int64(int64(len(data))),
		StorageClass:  types.StorageClass(s.cfg.StorageClass),
	}
	if s.cfg.SSE != "" {
		in.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	if s.cfg.SSEKMSKeyID != "" {
		in.SSEKMSKeyId = &s.cfg.SSEKMSKeyID
	}
	return s.conditional(ctx, "put", key, func(cond bool) error {
		in.Body = bytes.NewReader(data) // fresh for every attempt
		in.IfNoneMatch = nil
		if cond {
			in.IfNoneMatch = aws.String("*")
		}
		_, err := s.client.PutObject(ctx, in)
		return err
	})
}

// conditional runs a write (PutObject or CompleteMultipartUpload) that must
// not replace an existing key. write(true) sends If-None-Match: *. If the
// store answers NotImplemented, the Sink remembers that and falls back, now
// and for later writes, to HEAD before writing, which is racy: two writers
// can both see "absent". A 409 from a concurrent conditional write is retried.
func (s *Sink) conditional(ctx context.Context, op, key string, write func(cond bool) error) error {
	for attempt := 0; ; attempt++ {
		cond := s.cond.Load() == condUnknown
		if !cond {
			if ok, err := s.exists(ctx, key); err != nil {
				return err
			} else if ok {
				return fmt.Errorf("s3: %s %s: %w", op, key, sinks.ErrExist)
			}
		}
		err := write(cond)
		switch {
		case err == nil:
			return nil
		case cond && isNotImplemented(err):
			s.cond.Store(condNo)
			continue
		case isConditionalConflict(err) && attempt < 5:
			if err := sleepCtx(ctx, time.Duration(attempt+1)*100*time.Millisecond); err != nil {
				return fmt.Errorf("s3: %s %s: %w", op, key, err)
			}
			continue
		}
		return s.fail(op, key, err)
	}
}

// putMultipart uploads first (n = len(first) bytes, already read) and the
// rest of r as parts of partSize. Reading the next part overlaps with
// uploading earlier ones; at most Concurrency buffers exist at a time.
func (s *Sink) putMultipart(ctx context.Context, key string, r io.Reader, size int64, first []byte, partSize int64) (err error) {
	objKey := s.objectKey(key)
	create := &s3.CreateMultipartUploadInput{
		Bucket:            &s.cfg.Bucket,
		Key:               &objKey,
		StorageClass:      types.StorageClass(s.cfg.StorageClass),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	}
	if s.cfg.SSE != "" {
		create.ServerSideEncryption = types.ServerSideEncryption(s.cfg.SSE)
	}
	if s.cfg.SSEKMSKeyID != "" {
		create.SSEKMSKeyId = &s.cfg.SSEKMSKeyID
	}
	// Without conditional writes, check early that the key is free, so an
	// existing object costs one HEAD and not a whole upload.
	if s.cond.Load() == condNo {
		if ok, err := s.exists(ctx, key); err != nil || ok {
			s.putBuf(first)
			if ok {
				return fmt.Errorf("s3: put %s: %w", key, sinks.ErrExist)
			}
			return err
		}
	}
	out, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		s.putBuf(first)
		return s.fail("put", key, err)
	}
	uploadID := out.UploadId
	defer func() {
		if err != nil {
			s.abort(ctx, objKey, uploadID)
		}
	}()

	parts, total, err := s.uploadParts(ctx, key, objKey, uploadID, r, first, partSize, size)
	if err != nil {
		return err
	}
	if size >= 0 && total != size {
		return fmt.Errorf("s3: put %s: reader yielded %d of the declared %d bytes: %w", key, total, size, io.ErrUnexpectedEOF)
	}
	complete := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.cfg.Bucket,
		Key:             &objKey,
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	return s.conditional(ctx, "put", key, func(cond bool) error {
		complete.IfNoneMatch = nil
		if cond {
			complete.IfNoneMatch = aws.String("*")
		}
		_, err := s.client.CompleteMultipartUpload(ctx, complete)
		return err
	})
}

// uploadParts uploads first and the rest of r, returning the completed parts
// in order and the number of bytes read. On error, uploads in flight are
// cancelled and waited for.
func (s *Sink) uploadParts(ctx context.Context, key, objKey string, uploadID *string, r io.Reader,
	first []byte, partSize, size int64) ([]types.CompletedPart, int64, error) {
	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []types.CompletedPart
		slots = make(chan struct{}, s.cfg.Concurrency)
	)
	// Buffers circulate within this Put (at most Concurrency of them) and go
	// back to the Sink's pool at the end, so a long upload allocates nothing
	// per part and leaves no garbage for the GC to let pile up.
	free := make(chan []byte, s.cfg.Concurrency)
	defer func() {
		for len(free) > 0 {
			s.putBuf(<-free)
		}
	}()
	getBuf := func() []byte {
		select {
		case b := <-free:
			return b
		default:
			return s.getBuf(partSize)
		}
	}
	release := func(buf []byte) { free <- buf; <-slots }
	upload := func(num int32, buf []byte, n int) {
		defer release(buf)
		out, err := s.client.UploadPart(uctx, &s3.UploadPartInput{
			Bucket:            &s.cfg.Bucket,
			Key:               &objKey,
			UploadId:          uploadID,
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(buf[:n]),
			ContentLength:     aws.Int64(int64(n)),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			cancel(s.fail("put", fmt.Sprintf("%s (part %d)", key, num), err))
			return
		}
		mu.Lock()
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32: out.ChecksumCRC32})
		mu.Unlock()
	}

	slots <- struct{}{} // first already holds a buffer
	buf, n, total := first, len(first), int64(0)
	var readErr error
loop:
	for num := int32(1); ; num++ {
		total += int64(n)
		switch {
		case size >= 0 && total > size:
			readErr = fmt.Errorf("reader yielded more than the declared %d bytes", size)
		case num > maxParts:
			readErr = fmt.Errorf("more than %d parts of %d bytes: raise part_size", maxParts, partSize)
		}
		if readErr != nil {
			release(buf)
			break
		}
		b, k := buf, n                      // buf and n are reused by the next iteration
		wg.Go(func() { upload(num, b, k) }) // upload releases b
		if n < len(buf) {
			break // a short part is the last one
		}
		select {
		case slots <- struct{}{}:
		case <-uctx.Done():
			break loop
		}
		buf = getBuf()
		if uctx.Err() != nil {
			release(buf)
			break
		}
		var eof bool
		n, eof, readErr = readPart(r, buf)
		if readErr != nil || eof && n == 0 {
			release(buf)
			break
		}
	}
	if readErr != nil {
		cancel(fmt.Errorf("s3: put %s: read: %w", key, readErr))
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, total, fmt.Errorf("s3: put %s: %w", key, ctx.Err())
	}
	if uctx.Err() != nil {
		return nil, total, context.Cause(uctx)
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	return parts, total, nil
}

// abort removes an unfinished multipart upload, so its parts stop costing
// storage. It runs even when ctx was cancelled (that is often why we abort),
// bounded by its own timeout. If the store is unreachable the upload stays;
// AbortStale or a bucket lifecycle rule removes it later.
func (s *Sink) abort(ctx context.Context, objKey string, uploadID *string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: &objKey, UploadId: uploadID})
}

func (s *Sink) getBuf(partSize int64) []byte {
	if partSize != s.cfg.PartSize {
		return make([]byte, partSize)
	}
	return *s.parts.Get().(*[]byte)
}

func (s *Sink) putBuf(b []byte) {
	if int64(cap(b)) == s.cfg.PartSize {
		b = b[:cap(b)]
		s.parts.Put(&b)
	}
}

// readPart fills buf from r. eof reports that r ended (n may be less than
// len(buf), or 0).
func readPart(r io.Reader, buf []byte) (n int, eof bool, err error) {
	n, err = io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return n, true, nil
	}
	return n, false, err
}

// readExactly fills buf from r and checks that r ends right there.
func readExactly(r io.Reader, buf []byte) error {
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("reader yielded %d of the declared %d bytes: %w", n, len(buf), io.ErrUnexpectedEOF)
	}
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	var one [1]byte
	if k, err := io.ReadFull(r, one[:]); k > 0 {
		return fmt.Errorf("reader yielded more than the declared %d bytes", len(buf))
	} else if err != io.EOF {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// ctxReader fails as soon as ctx is done, so a cancelled Put stops reading.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
