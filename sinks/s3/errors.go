package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/y360backup/y360backup/sinks"
)

// Error kinds a caller (the doctor command, exit codes) can test with
// errors.Is. Each comes with a message that names the bucket and what to check.
var (
	ErrBucketNotFound = errors.New("bucket does not exist")
	ErrAccessDenied   = errors.New("access denied")
	ErrBadCredentials = errors.New("credentials rejected")
	ErrWrongRegion    = errors.New("wrong region")
	ErrClockSkew      = errors.New("clock skew too large")
	ErrUnreachable    = errors.New("store unreachable")
)

// fail turns an SDK error of operation op on key into our error: missing
// objects wrap sinks.ErrNotExist, failed preconditions sinks.ErrExist, and
// configuration problems one of the kinds above with a hint. The SDK error
// stays in the chain.
func (s *Sink) fail(op, key string, err error) error {
	what := fmt.Sprintf("s3: %s %s", op, key)
	if key == "" {
		what = "s3: " + op
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	code, status := errorCode(err)
	bucket := fmt.Sprintf("bucket %q", s.cfg.Bucket)
	hint := func(kind error, format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s: %s: %w", what, kind, bucket, fmt.Sprintf(format, args...), err)
	}
	switch {
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
		code == "XAdminUserNotFound": // versitygw's 404 for an unknown access key
		return hint(ErrBadCredentials, "check access_key and secret_key, and that they were issued for %s", s.endpoint())
	case code == "NoSuchKey" || code == "NotFound" && op != "open" || status == 404 && op == "stat":
		return fmt.Errorf("%s: %w", what, sinks.ErrNotExist)
	case code == "InvalidRange" || status == 416:
		// The range starts at or past the object's end (GetRange checks
		// ranges that start inside but run past it itself).
		if size := unsatisfiedSize(err); size >= 0 {
			return fmt.Errorf("%s: %w: the object has %d bytes", what, sinks.ErrRange, size)
		}
		return fmt.Errorf("%s: %w", what, sinks.ErrRange)
	case code == "PreconditionFailed" || status == 412:
		return fmt.Errorf("%s: %w", what, sinks.ErrExist)
	case code == "NoSuchBucket" || status == 404 && op == "open":
		return hint(ErrBucketNotFound, "create it, or check bucket, endpoint (%s) and region (%s) in the config",
			s.endpoint(), s.cfg.Region)
	case code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired":
		return hint(ErrBadCredentials, "the session token is invalid or expired: renew it or use long-lived keys")
	case code == "RequestTimeTooSkewed":
		return hint(ErrClockSkew, "this machine's clock differs from the store's by more than 15 minutes: sync it (NTP)")
	case code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || code == "IllegalLocationConstraintException" ||
		status == 301:
		return hint(ErrWrongRegion, "the config says region %q%s: set region to the bucket's region", s.cfg.Region, bucketRegion(err))
	case code == "AccessDenied" || code == "AllAccessDisabled" || status == 403:
		return hint(ErrAccessDenied, "check that the credentials may %s on %s/%s* (and use the KMS key, if sse is aws:kms)",
			permissionFor(op), s.cfg.Bucket, s.cfg.Prefix)
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) {
		return hint(ErrUnreachable, "cannot talk to %s: check endpoint and network", s.endpoint())
	}
	return fmt.Errorf("%s: %s: %w", what, bucket, err)
}

// errorCode returns the S3 error code ("NoSuchKey") and HTTP status of err.
// HEAD responses have no body, so for them the SDK makes the code up from
// the status ("NotFound", "Forbidden").
func errorCode(err error) (code string, status int) {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// bucketRegion extracts the region the store says the bucket lives in.
func bucketRegion(err error) string {
	if r := responseHeader(err).Get("X-Amz-Bucket-Region"); r != "" {
		return fmt.Sprintf(", the store says %q", r)
	}
	return ""
}

// responseHeader returns the headers of the HTTP answer behind err, or nil
// (on which Get returns "").
func responseHeader(err error) http.Header {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.Response != nil && respErr.Response.Response != nil {
		return respErr.Response.Header
	}
	return nil
}

// permissionFor names the S3 permission an operation needs.
func permissionFor(op string) string {
	switch op {
	case "get", "get range":
		return "s3:GetObject"
	case "put":
		return "s3:PutObject"
	case "delete":
		return "s3:DeleteObject"
	case "stat":
		return "s3:GetObject (HEAD)"
	default:
		return "s3:ListBucket"
	}
}

func (s *Sink) endpoint() string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint
	}
	return "AWS"
}

// isNotImplemented reports whether the store refused a request feature, as
// stores without conditional writes do for If-None-Match.
func isNotImplemented(err error) bool {
	code, status := errorCode(err)
	return code == "NotImplemented" || status == 501
}

// isConditionalConflict reports AWS's 409 for a conditional write racing
// another one on the same key: the advice is to retry.
func isConditionalConflict(err error) bool {
	code, status := errorCode(err)
	return code == "ConditionalRequestConflict" || status == 409 && strings.Contains(code, "Conditional")
}
