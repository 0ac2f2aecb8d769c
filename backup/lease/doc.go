// Package lease provides refreshable, fenced leases on a write-once object
// store, so that several processes on several hosts can back up different
// users into one repository at once without two of them working on the same
// thing. It needs nothing from the store but sinks.Sink: Put-if-absent, Get,
// List, Stat and Delete. There is no overwrite and no compare-and-swap; the
// only atomic primitive is "Put fails with ErrExist if the key exists".
//
// # Objects
//
// A lease has a name of safe key segments ("u/<userkey>/mail", see ValidName).
// Everything about it lives under leases/<name>/, with E an epoch written as
// 20 zero-padded decimal digits so that keys sort numerically:
//
//	leases/<name>/<E>             claim: JSON {owner, nonce, host, pid, started, ttl_ms}
//	leases/<name>/<E>.hb-<n>      heartbeat n of epoch E (a new object per refresh;
//	                              the previous one is deleted once the new one exists)
//	leases/<name>/<E>.released    release marker: epoch E is over
//
// The exclusive lock (for maintenance such as prune) is the lease named
// "exclusive" (leases/exclusive/<E>...), which is why no other lease name may
// start with that segment.
//
// Host and pid are for people reading List output only. Liveness is judged
// solely by the store's ModTime of an epoch's claim and heartbeats.
//
// # Protocol
//
// State of a name: list leases/<name>/; the top epoch T is the highest epoch
// any object names. T is free if there is none, if T.released exists, or if
// the newest ModTime among T's claim and heartbeats is older than the TTL
// (the larger of the acquirer's TTL and the ttl_ms in T's claim, so that an
// acquirer configured with a shorter TTL cannot cut a holder short). Otherwise
// T is live and Acquire fails with an error wrapping ErrHeld (a *HeldError
// that names owner, host, pid, start, last heartbeat and expiry).
//
// Acquire(name):
//  1. If the exclusive lock is live, fail (an early exit only; step 5 is the
//     check that matters).
//  2. List the name; if T is live, fail with ErrHeld.
//  3. Put-if-absent leases/<name>/<T+1>. ErrExist means a concurrent acquirer
//     won (unless the claim carries our nonce: an SDK retry of our own Put).
//  4. List again. If an epoch above ours exists, our Put only succeeded
//     because the successor's garbage collection had deleted a claim that
//     used to block it (we were delayed between steps 2 and 3): delete our
//     claim and fail with ErrHeld. Otherwise delete every object of older
//     epochs (garbage; the successor of a superseded holder removes it) and
//     start refreshing.
//  5. List the exclusive lock again, now that our claim exists. If it is
//     live, back off: Release (write our .released) and fail with ErrHeld.
//
// Refresh (every Options.Refresh, TTL/5 by default): Put the next heartbeat,
// list the name, and only then delete older heartbeats. The lease is lost if
//   - an epoch above ours exists (superseded),
//   - our epoch has a .released we did not write (Break), or our claim is gone,
//   - the store's ModTimes of the new heartbeat and of our epoch's previous
//     newest object are TTL/2 or more apart (lapsed: observers may have seen
//     the lease expired and taken a conflicting lock such as the exclusive
//     one, which this name's listing cannot show; this catches a holder
//     frozen where no local clock could tell, e.g. across a suspend), or
//   - no refresh succeeded (Put and list both) for TTL/2 since the start of
//     the last good heartbeat's Put, by the monotonic or by the wall clock.
//     The refresher checks this on a timer and bounds each refresh by it;
//     Err() checks it too, so a holder can test it before committing work.
//
// A lost lease closes Lost(), sets Err() (wrapping ErrLost) and stops
// refreshing; the holder must stop working.
//
// Release writes <E>.released, so waiters need not wait for the TTL, and
// keeps the claim: the highest claim is never deleted except by a successor
// that already has a higher one, which keeps epochs monotonic. A release
// marker is only ever written next to an existing claim (Release checks;
// Break marks only a top epoch that has one), because a marker for an epoch
// not yet claimed would release its future claim at once.
//
// AcquireExclusive: take the lease "exclusive" with steps 2-4, then list all
// leases. If any other lease is live, Release and fail with ErrHeld naming
// them.
//
// Break (y360backup unlock) writes the .released marker of a name's top epoch
// and never deletes anything. A live holder notices at its next refresh and
// reports its lease lost; meanwhile a new holder may already run, and the
// epochs fence the two apart (below).
//
// # Why it is safe
//
// Store assumptions: Put is atomic and never replaces (fs: rename-noreplace;
// S3: If-None-Match: * — an S3 store without conditional writes makes the
// s3 sink fall back to HEAD-then-PUT, which is NOT safe for leases); a List
// sees every object whose Put completed before the List began and that still
// exists, and returns keys in ascending order or atomically (S3 lists in key
// order; fs reads these small directories in one getdents call).
//
// I1, the highest claim is never deleted: a claim is deleted only by garbage
// collection run by the holder of a higher, existing claim, by a superseded
// acquirer deleting its own claim after it saw a higher one, or by nobody
// else (Release and Break only add markers).
//
// I2, epochs confirmed in step 4 strictly increase in time order, so each
// epoch has at most one holder: if P confirmed epoch p and later A confirms a
// <= p, then by I1 some claim >= p exists throughout, and A's step-4 list
// (started after P's claim existed) would have seen it. Equal epochs are
// excluded by Put-if-absent (or by I1: the claim p still exists).
//
// I3, handover only after the old holder stopped, given bounded clock skew:
// a new epoch is claimed only when the old one is released (its holder
// stopped refreshing first) or its newest ModTime is older than TTL. A holder
// whose refreshes fail stops TTL/2 after the start of its last good heartbeat
// Put; that heartbeat's ModTime is not earlier than that start, so an
// acquirer, whose clock compares its own "now" with the store's ModTime, can
// take over no earlier than TTL after it. Hence overlap is impossible while
//
//	skew + ModTime resolution (S3: 1 s)  <  TTL/2          (2.5 min by default)
//
// where skew is how far an acquirer's clock runs ahead of the store's. A
// healthy holder, whose newest object is at most Refresh plus one Put old, is
// never judged expired while skew + resolution + Put time < TTL - Refresh.
// Keep clocks NTP-synchronised and the TTL far above both; Options.Clock lets
// tests skew it.
//
// A holder that is frozen (SIGSTOP, VM pause, swap storm) runs no timers and
// can wake up believing it still holds. On waking it learns of the loss from
// Err() (if its clocks saw the time pass) or from its next refresh (a higher
// epoch, or the lapse in the store's timestamps), but writes it had in flight
// land anyway. Fencing covers them: the holder's writes carry its epoch
// (Epoch()), and the repository names checkpoint objects with it so that a
// superseded holder's late writes rank below its successor's. For the same
// reason maintenance under the exclusive lock must not assume that nothing
// is written concurrently: late writes of a frozen backup can still land, so
// prune must spare recent objects (a grace period well above the TTL).
//
// Exclusive vs normal: suppose X holds the exclusive lock and N a lease, both
// past their checks. Let x and n be when their claims became visible (both
// fresh and, by I3, live while their holders hold). X's scan of all leases
// started at sX > x and did not find N's claim live, so it did not see it:
// n > sX > x. N's check of the exclusive lock started at sN > n > x, so it
// saw X's claim, live, and N backed off: a contradiction. If each sees the
// other, both back off; that is safe, and callers retry with jitter. If one
// side's lease had lapsed (its holder frozen or cut off past TTL/2, so the
// other could judge it expired), the lapsed holder learns so from Err() or
// its next refresh (deadline or lapse check) and must stop; until then only
// fencing and the prune grace period protect the repository.
//
// # Limits
//
// A lease is not reentrant: a second Acquire of a held name in the same
// process fails like any other. Garbage of superseded epochs (a late
// heartbeat or marker) stays until the name's next acquisition.
// AcquireExclusive lists all leases and reads the claim of every one not
// released, a few thousand small GETs for a large organisation, which is
// fine for maintenance. Leases are only as safe as the store's Put-if-absent:
// run the s3 sink's Check and refuse leases when ConditionalWrites is false.
package lease
