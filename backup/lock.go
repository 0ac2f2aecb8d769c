package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// lockInfo is stored in locks/<run>.json while a backup runs.
type lockInfo struct {
	Run     string    `json:"run"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// DefaultStaleLock is how old another host's lock must be before a run
// ignores it (a lock of a dead process on this host is removed at once).
const DefaultStaleLock = 24 * time.Hour

// ErrLocked means another backup holds the repository.
var ErrLocked = errors.New("repository is locked by another backup")

// lock takes the repository's backup lock for run, removing stale locks.
func (r *Repository) lock(ctx context.Context, run string, stale time.Duration) (unlock func(), err error) {
	host, _ := os.Hostname()
	if stale <= 0 {
		stale = DefaultStaleLock
	}
	var held []string
	err = r.sink.List(ctx, "locks/", func(oi sinks.ObjectInfo) error {
		if !strings.HasSuffix(oi.Key, ".json") {
			return nil
		}
		li, err := r.readLock(ctx, oi.Key)
		switch {
		case err != nil && time.Since(oi.ModTime) > stale:
			_ = r.sink.Delete(ctx, oi.Key)
		case err != nil:
			held = append(held, fmt.Sprintf("%s (unreadable: %v)", oi.Key, err))
		case li.Host == host && !processAlive(li.PID):
			_ = r.sink.Delete(ctx, oi.Key) // our host, process gone: a crash
		case time.Since(li.Started) > stale:
			_ = r.sink.Delete(ctx, oi.Key)
		default:
			held = append(held, fmt.Sprintf("run %s on %s pid %d since %s (key %s)", li.Run, li.Host, li.PID, li.Started.Format(time.RFC3339), oi.Key))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repository: list locks: %w", err)
	}
	if len(held) > 0 {
		return nil, fmt.Errorf("%w: %s; if that process is dead, delete the lock object", ErrLocked, strings.Join(held, "; "))
	}
	key := "locks/" + run + ".json"
	b, _ := json.Marshal(lockInfo{Run: run, Host: host, PID: os.Getpid(), Started: time.Now().UTC()})
	if err := r.sink.Put(ctx, key, strings.NewReader(string(b)), int64(len(b))); err != nil {
		return nil, fmt.Errorf("repository: write lock %s: %w", key, err)
	}
	return func() { _ = r.sink.Delete(context.WithoutCancel(ctx), key) }, nil
}

func (r *Repository) readLock(ctx context.Context, key string) (lockInfo, error) {
	var li lockInfo
	rc, err := r.sink.Get(ctx, key)
	if err != nil {
		return li, err
	}
	defer rc.Close()
	err = json.NewDecoder(io.LimitReader(rc, 1<<16)).Decode(&li)
	return li, err
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func hostname() string { h, _ := os.Hostname(); return h }
