package store

import "context"

// Store keeps queues, messages and claims. Every method is one atomic step
// (one transaction or one critical section): it applies whole or not at all,
// and bad input returns an ErrInvalid error and changes nothing. A store
// never reads the clock and never starts goroutines: time comes in as
// params.Now, and background work (sweeps, wake-ups) is driven by the
// caller. Hot paths do not scan: CreateClaim, PostMessages, DeleteMessages,
// PopMessages, ReleaseClaim and RenewClaim cost O(log n) or better per
// message touched, in the number of messages, claimed messages and delayed
// messages in the queue.
//
// Every method checks its QueueRef (T1, Q1) and returns ErrClosed after
// Close. A message or claim ID that a method takes to name something (not
// a Marker, and not DeleteMessagesParams.Claim, where zero means "no
// claim") must not be the zero ID, which names nothing: it gives
// ErrInvalidID (CheckIDs; the params' Check methods apply it). Methods are
// safe for concurrent use.
//
// Every method, here and in the optional interfaces (Transactor,
// Subscriber, Cataloger), honours ctx the same way (E1): called with a ctx
// that is already done, it returns ctx.Err() and changes nothing, reads
// and calls that would find nothing to do included. (Bad input with a done
// ctx may report either error.) A ctx that ends during a call may or may
// not stop it: a write that returns nil is done.
//
// Limits (L1, L2): a call that would create a queue or a subscription
// gets the caller's Quota in its params and checks it inside its own
// transaction or critical section, against counts the store keeps as it
// creates and deletes (see Quota), so two creations racing for the last
// slot cannot both pass and no check scans what is stored. A refusal is
// ErrTooMany and changes nothing.
type Store interface {
	QueueStore
	MessageStore
	ClaimStore

	// Sweep removes up to params.Limit expired items across all queues:
	// messages (M4), claim records and dedup entries (B1). It finds them
	// through expiry indexes, so its cost follows what expired, not what is
	// stored.
	Sweep(ctx context.Context, p SweepParams) (SweepResult, error)

	// Close releases the store. Later calls return ErrClosed; a second
	// Close returns nil.
	Close() error
}

// QueueStore is the queue half of Store.
type QueueStore interface {
	// CreateQueue creates a queue with the given metadata and reports true,
	// or, if the queue exists, leaves it alone and reports false (Q2). The
	// metadata is checked with ParseQueueOptions even when the queue exists.
	CreateQueue(ctx context.Context, p CreateQueueParams) (created bool, err error)
	// GetQueue returns a queue and its metadata, or ErrNotFound.
	GetQueue(ctx context.Context, p GetQueueParams) (QueueInfo, error)
	// SetQueueMetadata replaces a queue's metadata (checked with
	// ParseQueueOptions), or returns ErrNotFound. With p.Expected set it
	// is a compare-and-swap: metadata other than Expected gives
	// ErrConflict, checked atomically with the write (see
	// SetQueueMetadataParams.CheckExpected).
	SetQueueMetadata(ctx context.Context, p SetQueueMetadataParams) error
	// DeleteQueue removes a queue with its messages, claims and dedup
	// entries (Q6). Deleting a missing queue is not an error.
	DeleteQueue(ctx context.Context, p DeleteQueueParams) error
	// ListQueues lists a project's queues in name order after the marker
	// (Q4).
	ListQueues(ctx context.Context, p ListQueuesParams) ([]QueueInfo, error)
	// QueueStats counts a queue's messages without scanning them (Q5), or
	// returns ErrNotFound.
	QueueStats(ctx context.Context, p QueueStatsParams) (Stats, error)
	// PurgeQueue removes every message, claimed ones too; their claims end
	// (Q6). Metadata and dedup entries stay: a producer retrying a post
	// that did land must still not post it twice (M10). Purging a missing
	// queue is not an error.
	PurgeQueue(ctx context.Context, p PurgeQueueParams) error
}

// MessageStore is the message half of Store.
type MessageStore interface {
	// PostMessages stores a batch atomically and returns the IDs in input
	// order (M1), creating the queue if it is missing (Q2). IDs strictly
	// increase in commit order (M2). A draft whose DedupID was posted to
	// the queue within the window stores nothing and gets the first ID
	// (M10); so does a repeat within the batch. The summed body size may
	// not exceed the queue's _max_messages_post_size (ErrTooLarge, M3).
	// Bodies are copied and checksummed (M11).
	PostMessages(ctx context.Context, p PostParams) ([]ID, error)
	// ListMessages returns up to Limit messages after Marker, oldest first,
	// filtered as M6 says. A missing queue gives an empty list.
	ListMessages(ctx context.Context, p ListMessagesParams) ([]Message, error)
	// GetMessages returns the messages with the given IDs that exist, in
	// the order asked, each once (M7). Claim and delay do not hide them;
	// expiry does. A missing queue gives an empty list.
	GetMessages(ctx context.Context, p GetMessagesParams) ([]Message, error)
	// DeleteMessages deletes messages (M8), checking every named message
	// first: a failed check fails the call whole and deletes nothing; the
	// first failing ID, in the order given, decides the error.
	//
	// Without Claim (or with IgnoreClaims) missing IDs are skipped, so a
	// repeat is harmless; unless IgnoreClaims is set, a present message
	// under a live claim gives ErrClaimMismatch.
	//
	// With Claim set the call settles work held under that claim, and
	// every named message must be held by that live claim right now (C3:
	// claim IDs are fencing tokens): a message under no live claim gives
	// ErrNotClaimed, one under another live claim ErrClaimMismatch, and a
	// message that no longer exists (deleted, expired, purged, or its
	// queue gone) ErrMessageGone, a child of ErrNotClaimed. So a stale
	// claim fails even when a newer claimant already deleted the message,
	// and so does a retry of this claim's own delete that succeeded: a
	// caller that lost the answer must not take the error for a refusal
	// to delete, but a transaction that deleted its input and posted its
	// output fails on retry rather than posting the output twice. An ID
	// named twice in one call counts once.
	DeleteMessages(ctx context.Context, p DeleteMessagesParams) error
	// PopMessages deletes and returns up to Limit of the oldest free,
	// visible messages (M9).
	PopMessages(ctx context.Context, p PopParams) ([]Message, error)
}

// ClaimStore is the claim half of Store. A claim lives until it expires,
// is released, or its last message leaves it (deleted, purged or expired);
// after that GetClaim and RenewClaim give ErrClaimNotFound and ReleaseClaim
// does nothing. Ending a claim once it holds nothing keeps finished claims
// from piling up until their TTL (Zaqar's mongo driver does the same).
type ClaimStore interface {
	// CreateClaim claims up to Limit of the oldest free, visible messages
	// (C1), extending each message that would expire before the claim's
	// expiry plus Grace to that time (C2) and incrementing its claim count
	// (C6). When the queue has _max_claim_count N and _dead_letter_queue D,
	// a message already claimed N times is moved to D (created if missing)
	// instead, unclaimed and visible, with a new ID in D and, if set,
	// _dead_letter_queue_messages_ttl as its new lifetime; the claim keeps
	// taking messages until it has Limit or none are left. With no message
	// claimed, no claim is made and NextReady says when to try again.
	// With Delete set, the messages it lists are deleted under DeleteClaim
	// in the same transaction first, as DeleteMessages with that Claim:
	// each must be held by that live claim right now, so a stale claim or
	// a repeat of a delete that succeeded gives ErrNotClaimed,
	// ErrClaimMismatch or ErrMessageGone, and a failed delete fails the
	// call whole (nothing deleted, nothing claimed).
	CreateClaim(ctx context.Context, p CreateClaimParams) (ClaimResult, error)
	// GetClaim returns a live claim and the messages it still holds, or
	// ErrClaimNotFound.
	GetClaim(ctx context.Context, p GetClaimParams) (ClaimInfo, []Message, error)
	// RenewClaim sets a live claim's TTL and grace, makes it expire at
	// Now+TTL and extends its messages again (C2, C4). Claim counts are
	// kept. An unknown or expired claim gives ErrClaimNotFound.
	RenewClaim(ctx context.Context, p RenewClaimParams) (ClaimInfo, error)
	// ReleaseClaim ends a live claim; its messages become visible at
	// Now+Delay (C5). With IDs it frees only those of its messages and
	// ends once it holds none. An unknown or expired claim is a no-op. A
	// negative Delay, or one whose deadline would overflow, gives
	// ErrInvalidDelay.
	ReleaseClaim(ctx context.Context, p ReleaseClaimParams) error
}
