package backup

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
)

// VerifyOptions select what Verify reads.
type VerifyOptions struct {
	// Fraction of objects to re-read and hash (0 or >= 1 = all). Index
	// segments are always read in full.
	Fraction float64
	// Progress, if set, is called after each object read.
	Progress func(done int)
}

// VerifyReport says what Verify found.
type VerifyReport struct {
	Containers int
	Items      int
	Objects    int   // distinct objects read
	Bytes      int64 // plaintext bytes read
	Problems   []string
}

// Verify replays every container of snap and re-reads (a sample of) the
// objects its items reference, checking each SHA-256. Problems name the user,
// source, container and item so an admin knows what is affected.
func (r *Repository) Verify(ctx context.Context, snap *Snapshot, opts VerifyOptions) (*VerifyReport, error) {
	rep := &VerifyReport{}
	checked := map[string]string{} // hash → problem ("" = fine)
	for _, u := range snap.Users {
		for srcName, ss := range u.Sources {
			for _, h := range ss.Containers {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				v, err := r.LoadContainer(ctx, u.ID, srcName, h)
				if err != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s %q: index unreadable: %v", u.Email, srcName, h.Name, err))
					continue
				}
				rep.Containers++
				for id, it := range v.Items {
					rep.Items++
					prob, seen := checked[it.Hash]
					if !seen {
						if opts.Fraction > 0 && opts.Fraction < 1 && rand.Float64() >= opts.Fraction {
							continue
						}
						prob = r.checkObject(ctx, it.Hash, it.Size, rep)
						checked[it.Hash] = prob
						if opts.Progress != nil {
							opts.Progress(len(checked))
						}
					}
					if prob != "" {
						rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s %q item %s: %s", u.Email, srcName, h.Name, id, prob))
					}
				}
			}
		}
	}
	return rep, nil
}

func (r *Repository) checkObject(ctx context.Context, hash string, size int64, rep *VerifyReport) string {
	rep.Objects++
	rc, err := r.OpenObject(ctx, hash)
	if err != nil {
		return "missing or unreadable object: " + err.Error()
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	rep.Bytes += n
	if err != nil {
		return err.Error()
	}
	if n != size {
		return fmt.Sprintf("object %s has %d bytes, index says %d", hash[:12], n, size)
	}
	return ""
}
