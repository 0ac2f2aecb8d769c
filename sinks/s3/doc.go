// Package s3 is a sinks.Sink on Amazon S3 or any S3-compatible store (Yandex
// Object Storage, MinIO, Ceph RGW, versitygw), built on aws-sdk-go-v2.
//
// Keys map to Config.Prefix + key in one bucket. Writes are streamed with
// bounded memory: objects up to PartSize go up in one PUT, larger ones or
// streams of unknown length as multipart uploads with at most Concurrency
// part buffers per Put; failed multipart uploads are aborted.
//
// Write-once is enforced by the store where it can be: PutObject and
// CompleteMultipartUpload carry If-None-Match: *, and a 412 becomes
// sinks.ErrExist. A store that answers NotImplemented is remembered as lacking
// conditional writes and gets HEAD-before-PUT instead, which cannot stop two
// concurrent writers; Check also detects stores that silently ignore the
// header. Versioned and object-lock buckets work: nothing is ever overwritten,
// and the SDK's default CRC32 checksums satisfy object lock's integrity rule.
//
// Requests are retried by the SDK's standard retryer, tuned for a daemon
// (Config.MaxRetries, exponential back-off up to 20 s, no client-side retry
// quota) on 5xx, SlowDown, timeouts and dropped connections. Configuration
// mistakes come back as ErrBucketNotFound, ErrAccessDenied, ErrBadCredentials,
// ErrWrongRegion, ErrClockSkew or ErrUnreachable, with the bucket named and a
// hint what to check.
//
// The SDK's environment knobs still apply, e.g.
// AWS_REQUEST_CHECKSUM_CALCULATION=when_required for stores that reject the
// newer checksum headers.
package s3
