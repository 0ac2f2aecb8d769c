package sources

import (
	"context"
	"sync"
)

// RestoreEach runs one restore step per item with up to workers in flight,
// feeding items in order. one reports whether it wrote the item; an error
// for which stops(err) is true ends the whole container (the first such
// error is returned, the rest cancelled), any other error goes to fail and
// the loop goes on. It returns the number of items written.
func RestoreEach(ctx context.Context, items []RestoreItem, workers int,
	one func(context.Context, RestoreItem) (wrote bool, err error),
	stops func(error) bool, fail func(item string, err error)) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan RestoreItem)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written int
		stop    error
	)
	for range max(1, min(workers, len(items))) {
		wg.Go(func() {
			for it := range next {
				wrote, err := one(ctx, it)
				mu.Lock()
				if wrote {
					written++
				}
				switch {
				case err == nil:
				case ctx.Err() != nil || stops(err):
					if stop == nil {
						stop = err
					}
					cancel()
				default:
					fail(it.ID, err)
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, it := range items {
		select {
		case next <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if stop == nil && ctx.Err() != nil {
		stop = ctx.Err()
	}
	return written, stop
}
