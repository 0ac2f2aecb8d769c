package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/y360backup/y360backup/sinks"
)

// State is what an observer concludes about a lease's top epoch.
type State int

const (
	// Live: neither released nor expired; someone holds it.
	Live State = iota
	// Expired: no claim or heartbeat newer than the TTL; free to take.
	Expired
	// Released: its holder (or Break) wrote the release marker; free to take.
	Released
)

func (s State) String() string {
	switch s {
	case Live:
		return "live"
	case Expired:
		return "expired"
	case Released:
		return "released"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Info describes the top epoch of one lease, as List, Break and HeldError
// report it.
type Info struct {
	Name    string
	Epoch   uint64
	Owner   string // random per process; "" if the claim could not be read
	Host    string // informational only
	PID     int    // informational only
	Started time.Time
	// LastHeartbeat is the newest ModTime (store clock) of the epoch's claim
	// and heartbeats.
	LastHeartbeat time.Time
	TTL           time.Duration
	// Expires is LastHeartbeat + TTL: when the lease becomes free unless
	// refreshed.
	Expires time.Time
	State   State
}

// claimDoc is the body of a claim object.
type claimDoc struct {
	Owner   string    `json:"owner"`
	Nonce   string    `json:"nonce"` // tells our own Put, retried by an SDK, from a rival's
	Host    string    `json:"host,omitempty"`
	PID     int       `json:"pid,omitempty"`
	Started time.Time `json:"started"`
	TTLms   int64     `json:"ttl_ms"`
}

// markerDoc is the body of heartbeats and release markers; only the key and
// ModTime matter, the body helps a person reading the store.
type markerDoc struct {
	Owner string    `json:"owner,omitempty"`
	By    string    `json:"by,omitempty"`
	Seq   uint64    `json:"seq,omitempty"`
	At    time.Time `json:"at"`
}

// epochObjs is what one listing saw of one epoch.
type epochObjs struct {
	claim    bool
	released bool
	newest   time.Time // of the claim and heartbeats
	objs     []epochObj
}

type epochObj struct {
	key  string
	kind objKind
	mod  time.Time
}

// newestBut is the newest ModTime of the claim and heartbeats other than key.
func (eo *epochObjs) newestBut(key string) (newest time.Time) {
	for _, o := range eo.objs {
		if o.key != key && o.kind != kindReleased && o.mod.After(newest) {
			newest = o.mod
		}
	}
	return newest
}

// mod returns key's ModTime.
func (eo *epochObjs) mod(key string) (time.Time, bool) {
	for _, o := range eo.objs {
		if o.key == key {
			return o.mod, true
		}
	}
	return time.Time{}, false
}

// nameScan is one listing of leases/<name>/.
type nameScan struct {
	name   string
	epochs map[uint64]*epochObjs
	top    uint64 // highest epoch any object names; 0 if none
}

func newNameScan(name string) *nameScan {
	return &nameScan{name: name, epochs: map[uint64]*epochObjs{}}
}

func (ns *nameScan) add(oi sinks.ObjectInfo, rel string) {
	epoch, kind, ok := parseRel(rel)
	if !ok {
		return
	}
	eo := ns.epochs[epoch]
	if eo == nil {
		eo = &epochObjs{}
		ns.epochs[epoch] = eo
	}
	eo.objs = append(eo.objs, epochObj{oi.Key, kind, oi.ModTime})
	switch kind {
	case kindClaim:
		eo.claim = true
	case kindReleased:
		eo.released = true
	}
	if kind != kindReleased && oi.ModTime.After(eo.newest) {
		eo.newest = oi.ModTime
	}
	ns.top = max(ns.top, epoch)
}

// scanName lists one lease's objects (not those of longer names below it).
func scanName(ctx context.Context, s sinks.Sink, name string) (*nameScan, error) {
	prefix := prefixOf(name)
	ns := newNameScan(name)
	err := s.List(ctx, prefix, func(oi sinks.ObjectInfo) error {
		if rel := oi.Key[len(prefix):]; !strings.Contains(rel, "/") {
			ns.add(oi, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	return ns, nil
}

// scanAll lists every lease in one pass, keyed by name.
func scanAll(ctx context.Context, s sinks.Sink) (map[string]*nameScan, error) {
	all := map[string]*nameScan{}
	err := s.List(ctx, rootPrefix, func(oi sinks.ObjectInfo) error {
		rest := oi.Key[len(rootPrefix):]
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			return nil
		}
		name, rel := rest[:i], rest[i+1:]
		if validTarget(name) != nil {
			return nil
		}
		ns := all[name]
		if ns == nil {
			ns = newNameScan(name)
			all[name] = ns
		}
		ns.add(oi, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", rootPrefix, err)
	}
	for name, ns := range all {
		if ns.top == 0 {
			delete(all, name)
		}
	}
	return all, nil
}

var errBadClaim = errors.New("unreadable claim")

func readClaim(ctx context.Context, s sinks.Sink, key string) (claimDoc, error) {
	var c claimDoc
	rc, err := s.Get(ctx, key)
	if err != nil {
		return c, err
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, 1<<16)).Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w: %v", key, errBadClaim, err)
	}
	return c, nil
}

// describe judges ns's top epoch (ns.top > 0) at now. minTTL is the
// observer's own TTL: the claim's TTL counts only if it is longer.
func describe(ctx context.Context, s sinks.Sink, ns *nameScan, now time.Time, minTTL time.Duration) (Info, error) {
	eo := ns.epochs[ns.top]
	info := Info{Name: ns.name, Epoch: ns.top, LastHeartbeat: eo.newest}
	ttl := minTTL
	if eo.claim {
		c, err := readClaim(ctx, s, claimKey(ns.name, ns.top))
		switch {
		case err == nil:
			info.Owner, info.Host, info.PID, info.Started = c.Owner, c.Host, c.PID, c.Started
			ttl = max(ttl, time.Duration(c.TTLms)*time.Millisecond)
		case errors.Is(err, sinks.ErrNotExist), errors.Is(err, errBadClaim):
			// Deleted since the listing (a higher epoch exists now, which a
			// Put of ours will run into) or corrupt: judge by ModTime alone.
		default:
			return info, fmt.Errorf("read claim: %w", err)
		}
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	info.TTL, info.Expires = ttl, eo.newest.Add(ttl)
	switch {
	case eo.released:
		info.State = Released
	case now.After(info.Expires):
		info.State = Expired
	default:
		info.State = Live
	}
	return info, nil
}

// putJSON writes v under key with Put-if-absent.
func putJSON(ctx context.Context, s sinks.Sink, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}
