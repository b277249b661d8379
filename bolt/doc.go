// Package bolt is a durable store.Store for herald, kept in one
// go.etcd.io/bbolt file.
//
// It is for durable work on one machine: queues whose messages and claims
// must survive a crash or a restart. Every call that changes something
// returns only after its transaction is fsynced (D1); there is no option to
// skip that. One process owns the file: a second process waits
// Options.Timeout and then gets ErrLocked, and a second Open in the same
// process gets ErrLocked at once (D4). A damaged, truncated or foreign file
// gives ErrCorrupt, never a panic or a hang.
//
// Group commit (D2): concurrent writers share one transaction and one
// fsync. The first caller to find no commit running leads: it commits every
// op waiting, then hands the lead to the next waiter. A lone caller commits
// at once; nothing waits on a timer, and the store starts no goroutines.
// An op that fails is rolled back alone; the others commit without it.
//
// Layout: a bucket "herald" holds the schema version (2; a herald that
// reads only schema 1 refuses the file, since it would take a queue
// without nested buckets for damage and write behind the queue counts and
// the per-project due index; a schema-1 file gets both rebuilt on open and
// becomes schema 2), the last ID issued (so IDs keep increasing across
// restarts, M2), the latest Now seen (so
// time never goes backwards, even across restarts) and "void", a bucket
// that stays empty. A bucket "queues" holds one bucket per queue, keyed
// project + "/" + name, with its metadata, creation time and counters,
// and, from the queue's first message on, these nested buckets:
//
//	msgs       ID → message record (times, claim, count, CRC32C, client, body)
//	ready      ID → free, visible messages: claims and pops take the first
//	delayed    visibleAt ‖ ID → unclaimed messages not yet visible
//	expiry     expires ‖ ID → every message
//	claims     claim ID → claim record (ttl, grace, updated, expires, held)
//	claimexp   expires ‖ claim ID
//	claimmsgs  claim ID ‖ message ID → the messages a claim holds
//	dedup      dedup ID → message ID ‖ expires
//	dedupexp   expires ‖ dedup ID
//
// A queue that never held a message has none of them (schema 2) and reads
// through "void" instead: a bucket with nested buckets takes a 4 KiB page
// of its own, one without is stored inline in its parent's page, so an
// empty queue costs ~250 B rather than 4 KiB.
//
// Times are big-endian Unix nanoseconds, so every hot path is an index
// seek: Post, Claim, Delete, Pop, Renew and Release cost O(log n) per
// message touched. Writes first apply what fell due at their Now (claims
// end, delays end, messages and dedup entries expire) through the time
// indexes, at most 1,000 items per transaction (B1): a write to a queue
// further behind catches it up in commits of their own first, other
// writers' commits coming in between, and a post, which only adds to a
// queue, applies one such share and goes on. Reads never write: they treat
// due-but-unapplied items as applied (B4), and QueueStats corrects the
// stored counters by walking only the due prefixes of the time indexes.
// Sweep visits every queue (a few seeks each) and applies at most Limit due
// items per call.
//
// bbolt reuses the pages deletes free but never returns them to the file
// system; Compact (store.Compacter) rewrites the file to its live size, for
// after a large backlog drains. Until then the free pages cost nothing per
// commit: bbolt's freelist is written once at Close, not with every commit,
// and rebuilt by a walk of the file when a crash left it unwritten (see
// freelist.go). Verify checks the whole file: bbolt's page
// check and every index against the records.
//
// Store implements store.Subscriber (S1, S2): top-level buckets "outbox.*"
// (layout in outboxcodec.go) hold subscriptions and their deliveries, and
// every post writes its deliveries in its own transaction. It is created
// on open when missing, so files from before it open unchanged. One of
// them, "outbox.dueproj", orders the pending deliveries per project for
// the fair lease (L3, duefair.go); a file from before it gets it, filled
// from "outbox.due", on open.
//
// A bucket "projects" counts each project's queues, written with every
// queue creation and deletion, so the limit on queues per project (L1,
// store.Quota) costs one read; a file from before it gets it, counted from
// "queues", on open. Verify checks both against the data.
//
// Store implements store.Cataloger: a pooled herald Service keeps its
// catalog (which pool holds each queue, and each project's flavors) in a
// bucket "catalog" that the first catalog write makes; see catalog.go. It
// implements store.Sizer too: Size is the file's size.
//
// Store implements store.Transactor: Transact posts and deletes on several
// queues as one write op of the group committer (X1), so it commits whole,
// in one fsync, or not at all.
//
// A claim ends once it holds no message (deleted, purged or expired), as in
// package memory. Every body is checked against its CRC32C on every read
// (M11); one that fails is left out and set aside (store.DamageKeeper): a
// write sets it aside in its own transaction, a read in a write of its own
// right after. Applications may keep their own buckets in the same file and post
// inside their own transactions with DB and PostTx (X2).
package bolt
