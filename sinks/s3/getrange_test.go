package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/y360backup/y360backup/sinks"
	"github.com/y360backup/y360backup/sinks/s3"
	"github.com/y360backup/y360backup/sinks/sinktest"
)

// rangeStore is a one-object S3 store that answers ranged GETs in one of
// several broken ways a real store (or a proxy in front of it) might.
type rangeStore struct {
	data []byte
	mode string // "honest", "ignore range", "truncate", "wrong range"
}

func (rs *rangeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	size := int64(len(rs.data))
	switch {
	case r.URL.Query().Has("list-type"): // Open's probe
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`+
			`<Name>bkt</Name><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
		return
	case r.Method == http.MethodHead:
		w.Header().Set("Content-Length", fmt.Sprint(size))
		return
	case r.Method != http.MethodGet:
		http.Error(w, "unexpected "+r.Method, http.StatusMethodNotAllowed)
		return
	}
	var first, last int64
	if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last); err != nil || rs.mode == "ignore range" {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(rs.data)
		return
	}
	if first >= size { // as RFC 9110 says; versitygw leaves the size out
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		io.WriteString(w, `<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message></Error>`)
		return
	}
	last = min(last, size-1)
	if rs.mode == "wrong range" {
		first, last = first+1, min(last+1, size-1)
	}
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, size))
	w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
	w.WriteHeader(http.StatusPartialContent)
	body := rs.data[first : last+1]
	if rs.mode == "truncate" {
		// Fewer bytes than Content-Length: the server then drops the
		// connection, as a store or proxy dying mid-answer would.
		body = body[:len(body)/2]
	}
	w.Write(body)
}

func openRangeStore(t *testing.T, mode string) (*s3.Sink, []byte) {
	t.Helper()
	rs := &rangeStore{data: sinktest.Data(90, 1000), mode: mode}
	srv := httptest.NewServer(rs)
	t.Cleanup(srv.Close)
	cfg := s3.NewConfig()
	cfg.Bucket, cfg.Endpoint, cfg.PathStyle, cfg.Region = "bkt", srv.URL, true, "us-east-1"
	cfg.AccessKey, cfg.SecretKey, cfg.MaxRetries = "a", "s", -1
	return openSink(t, cfg), rs.data
}

// TestGetRangeStoreMisbehaves: whatever the store answers, GetRange either
// yields exactly the bytes asked for or fails; it never passes off other
// bytes or fewer bytes as the range.
func TestGetRangeStoreMisbehaves(t *testing.T) {
	ctx := context.Background()
	t.Run("honest 416 names the size", func(t *testing.T) {
		s, _ := openRangeStore(t, "honest")
		_, err := s.GetRange(ctx, "k", 1000, 1)
		if !errors.Is(err, sinks.ErrRange) || !strings.Contains(err.Error(), "the object has 1000 bytes") {
			t.Errorf("GetRange past the end = %v, want ErrRange naming the size", err)
		}
	})
	t.Run("ignore range", func(t *testing.T) {
		s, data := openRangeStore(t, "ignore range")
		if rc, err := s.GetRange(ctx, "k", 10, 20); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("GetRange(10, 20) from a store ignoring Range succeeded with %d bytes", len(b))
		} else if !strings.Contains(err.Error(), "ignored the Range header") {
			t.Errorf("GetRange(10, 20) = %v, want an error saying Range was ignored", err)
		}
		// The whole object is still the right answer to a whole-object range.
		rc, err := s.GetRange(ctx, "k", 0, int64(len(data)))
		if err != nil {
			t.Fatalf("GetRange of the whole object: %v", err)
		}
		defer rc.Close()
		if b, err := io.ReadAll(rc); err != nil || !bytes.Equal(b, data) {
			t.Errorf("whole-object range: %d bytes, %v", len(b), err)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		s, _ := openRangeStore(t, "truncate")
		rc, err := s.GetRange(ctx, "k", 100, 400)
		if err != nil {
			t.Fatalf("GetRange: %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "k [100,+400)") {
			t.Errorf("reading a truncated answer: %d bytes, %v; want io.ErrUnexpectedEOF naming the range", len(b), err)
		}
		if len(b) >= 400 {
			t.Errorf("read %d bytes of a truncated 400-byte answer", len(b))
		}
	})
	t.Run("wrong range", func(t *testing.T) {
		s, _ := openRangeStore(t, "wrong range")
		if rc, err := s.GetRange(ctx, "k", 100, 10); err == nil {
			rc.Close()
			t.Error("GetRange accepted an answer for other bytes")
		} else if errors.Is(err, sinks.ErrRange) {
			t.Errorf("GetRange = %v: a store's wrong answer is not a bad range", err)
		}
	})
}
