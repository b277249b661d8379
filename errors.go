package herald

import "github.com/heraldmq/herald/store"

// Sentinel errors, matched with errors.Is. Every error herald returns for
// bad input matches ErrInvalid and, where one fits, a more specific child
// (a nil handler or func, or a malformed subscriber, has none), and says
// which value was wrong. Package store documents each one at length;
// DESIGN.md §5 lists them with their HTTP answers.
var (
	// ErrInvalid is bad input, the parent of the kinds below: the call
	// changed nothing. HTTP 400.
	ErrInvalid = store.ErrInvalid
	// ErrInvalidName is a bad queue, pool or flavor name (Q1) or project
	// id (T1). HTTP 400.
	ErrInvalidName = store.ErrInvalidName
	// ErrInvalidTTL is a message, claim or grace duration, or another
	// duration or timeout, out of range (M4, C2). HTTP 400.
	ErrInvalidTTL = store.ErrInvalidTTL
	// ErrInvalidDelay is a message or release delay, or a backoff, out of
	// range (M5, C5). HTTP 400.
	ErrInvalidDelay = store.ErrInvalidDelay
	// ErrInvalidLimit is a count (claim limit, page size, number of ids,
	// concurrency, a Limits field) out of range. HTTP 400.
	ErrInvalidLimit = store.ErrInvalidLimit
	// ErrInvalidID is a message, claim or subscription id that does not
	// parse, or the zero ID, which names nothing. HTTP 400; a bad id in
	// a path answers 404 (204 for a delete), as Zaqar does.
	ErrInvalidID = store.ErrInvalidID
	// ErrInvalidMetadata is queue metadata that is not a JSON object, is
	// too large, or has a reserved key of the wrong type or range (Q3).
	// HTTP 400.
	ErrInvalidMetadata = store.ErrInvalidMetadata
	// ErrTooLarge is a message body, post, dedup id or subscription
	// options over its limit (M3). HTTP 413.
	ErrTooLarge = store.ErrTooLarge
	// ErrDeniedTarget is a webhook to a non-public address under
	// NotifyOptions.DenyPrivateTargets (S6); a kind of ErrInvalid. HTTP 400.
	ErrDeniedTarget = store.ErrDeniedTarget

	// ErrNotFound is a queue or message that must exist and does not.
	// HTTP 404.
	ErrNotFound = store.ErrNotFound
	// ErrClaimNotFound is a claim that is unknown, expired or released
	// (C4). HTTP 404.
	ErrClaimNotFound = store.ErrClaimNotFound
	// ErrClaimMismatch is a delete of a message another live claim holds
	// (M8, C3). HTTP 403.
	ErrClaimMismatch = store.ErrClaimMismatch
	// ErrNotClaimed is a settle through a claim that does not hold the
	// message: the claim expired or was released (C3). HTTP 400.
	ErrNotClaimed = store.ErrNotClaimed
	// ErrMessageGone is a settle of a message that no longer exists
	// (settled by someone else, expired or purged); a kind of
	// ErrNotClaimed: treat it as "settled already". HTTP 204 for a single
	// delete, as Zaqar answers.
	ErrMessageGone = store.ErrMessageGone
	// ErrClosed is a call on a closed Service or store (B3). HTTP 503.
	ErrClosed = store.ErrClosed
	// ErrCorrupt is stored data that failed its integrity check (M11,
	// D4); bad data is never returned. HTTP 503.
	ErrCorrupt = store.ErrCorrupt
	// ErrLocked is a store file held by another process (D4).
	ErrLocked = store.ErrLocked
	// ErrConflict is a change against something unique, or a
	// compare-and-swap of metadata that changed since it was read (S1,
	// Q3). HTTP 409.
	ErrConflict = store.ErrConflict
	// ErrPoolInUse is the removal of a pool that still holds queues (P3).
	// HTTP 409.
	ErrPoolInUse = store.ErrPoolInUse
	// ErrCrossPool is an operation on two queues on different pools (P5).
	// HTTP 400.
	ErrCrossPool = store.ErrCrossPool
	// ErrNoPool is a new queue no pool may take (P2). HTTP 503.
	ErrNoPool = store.ErrNoPool
	// ErrUnavailable is a store that cannot serve now (disk full,
	// read-only or failing device, database down): retryable, cause
	// wrapped, named by store.UnavailableReason. HTTP 503.
	ErrUnavailable = store.ErrUnavailable
	// ErrTooMany is a creation past MaxQueuesPerProject or
	// MaxSubscriptionsPerQueue (L1, L2); not an ErrInvalid, since it
	// succeeds once something is deleted. HTTP 400, as Zaqar refuses.
	ErrTooMany = store.ErrTooMany
)
