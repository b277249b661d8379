// Package memory is an in-memory store.Store for herald.
//
// It is for unit tests, examples and ephemeral work: queues that may vanish
// with the process. It is not durable. Everything it holds is lost on Close
// or when the process exits; use package bolt when messages must survive a
// restart.
//
// The store keeps each queue's messages in B-trees (github.com/google/btree):
// one by ID, a ready index of free visible messages, a delayed index by
// visible-at time and an expiry index, plus claims by ID and by expiry. Every
// call first applies what fell due at its Now through those indexes, so
// Post, Claim, Delete, Release, Renew and Pop cost O(log n) per message
// touched and Stats is O(log n), however many messages, claimed messages or
// delayed messages a queue holds. A queue far behind (after a clock jump) is
// caught up in steps of at most 1,000 items with its lock released between
// them, so no caller holds a queue for longer than one step (B1). B-trees
// give their nodes back as they empty, so a drained queue returns its
// memory to the Go runtime.
//
// Bodies are copied on Post and copied again on every read, so callers own
// the slices they pass in and get back. Each body carries a CRC32C checksum
// that every read verifies (M11); one that fails is left out and set aside
// (store.DamageKeeper) under the queue's lock.
//
// A claim ends when the last message it holds is deleted (or expires):
// GetClaim and RenewClaim then report ErrClaimNotFound and ReleaseClaim is a
// no-op, as in Zaqar's MongoDB driver. This keeps a busy queue from holding
// one record per finished claim until its TTL runs out.
//
// Memory: about 300 bytes per stored message beyond its body. Sweep checks
// every queue once per call (each check is O(1)); the rest of its cost
// follows what expired.
//
// Store implements store.Transactor: Transact posts and deletes on several
// queues as one step (X1). It locks every queue it names and checks every
// op before it changes anything, so it applies whole or not at all.
//
// A Store is safe for concurrent use. Each queue has its own lock; the store
// lock only guards the queue directory.
package memory
