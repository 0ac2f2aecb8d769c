package backup

import (
	"bytes"
	"context"
	"encoding/base64"
	"math/rand/v2"
	"testing"

	fssink "github.com/y360backup/y360backup/sinks/fs"
	"github.com/y360backup/y360backup/sinks/mem"
)

// mailLike returns n bytes shaped like a message with a base64 attachment:
// headers, then 76-character base64 lines (CRLF) of random bytes.
func mailLike(n int, seed uint64) []byte {
	rnd := rand.New(rand.NewPCG(seed, 1))
	out := []byte("Subject: test\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, 57)
	for len(out) < n {
		for i := range raw {
			raw[i] = byte(rnd.Uint32())
		}
		out = base64.StdEncoding.AppendEncode(out, raw)
		out = append(out, "\r\n"...)
	}
	return out[:n]
}

// BenchmarkPutObject measures the repository's per-body cost (hash, zstd,
// spool, store) for mail-sized bodies on the in-memory and the fs sink.
func BenchmarkPutObject(b *testing.B) {
	for _, size := range []int{8 << 10, 128 << 10, 4 << 20} {
		for _, sinkName := range []string{"mem", "fs"} {
			b.Run(sinkName+"/"+byteSize(size), func(b *testing.B) {
				ctx := context.Background()
				var r *Repository
				if sinkName == "mem" {
					r, _ = OpenOrInit(ctx, mem.New(), RepoOptions{SpoolDir: b.TempDir()})
				} else {
					c := fssink.NewConfig()
					c.Path = b.TempDir()
					s, err := fssink.Open(c)
					if err != nil {
						b.Fatal(err)
					}
					r, _ = OpenOrInit(ctx, s, RepoOptions{SpoolDir: b.TempDir()})
				}
				bodies := make([][]byte, 16)
				for i := range bodies {
					bodies[i] = mailLike(size, uint64(i))
				}
				b.SetBytes(int64(size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					body := bodies[i%len(bodies)]
					body[0] = byte(i) // distinct content: every put is a new object
					body[1] = byte(i >> 8)
					body[2] = byte(i >> 16)
					if _, _, err := r.PutObject(ctx, bytes.NewReader(body)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	default:
		return itoa(n>>10) + "KiB"
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 10 {
		s = append([]byte{byte('0' + n%10)}, s...)
	}
	return string(s)
}
