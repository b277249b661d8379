package store

import (
	"fmt"
	"strings"
)

// kind is a sentinel error. A kind may have a parent so that, for example,
// errors.Is(ErrInvalidName, ErrInvalid) holds.
type kind struct {
	text   string
	parent error
}

func (k *kind) Error() string { return k.text }
func (k *kind) Unwrap() error { return k.parent }

// The sentinel errors of herald. Package herald re-exports every one; match
// them with errors.Is.
var (
	// ErrInvalid is the parent of every bad-input error: a call that returns
	// it changed nothing.
	ErrInvalid = &kind{text: "herald: invalid argument"}
	// ErrInvalidName reports a bad queue name (Q1) or project id (T1).
	ErrInvalidName = &kind{text: "herald: invalid name", parent: ErrInvalid}
	// ErrInvalidTTL reports a message, claim or grace duration out of range,
	// or one whose deadline would overflow (M4, C2), and any other
	// duration or timeout a caller gives out of range (a claim's wait, a
	// consume stop timeout, a duration field of herald.Limits).
	ErrInvalidTTL = &kind{text: "herald: invalid ttl", parent: ErrInvalid}
	// ErrInvalidDelay reports a message or release delay out of range (M5,
	// C5), or a backoff that would make one.
	ErrInvalidDelay = &kind{text: "herald: invalid delay", parent: ErrInvalid}
	// ErrInvalidLimit reports a count (claim limit, page size, pop size,
	// number of ids, consume concurrency or attempts, pool weight) out of
	// range, or a count or size field of herald.Limits that is negative
	// or contradicts another.
	ErrInvalidLimit = &kind{text: "herald: invalid limit", parent: ErrInvalid}
	// ErrInvalidID reports a message or claim id that cannot be parsed.
	ErrInvalidID = &kind{text: "herald: invalid id", parent: ErrInvalid}
	// ErrInvalidMetadata reports queue metadata that is not a JSON object, is
	// too large, or has a reserved key of the wrong type or range (Q3).
	ErrInvalidMetadata = &kind{text: "herald: invalid metadata", parent: ErrInvalid}
	// ErrTooLarge reports a message body, post batch, dedup id or
	// subscription options over its limit (M3).
	ErrTooLarge = &kind{text: "herald: too large", parent: ErrInvalid}
	// ErrDeniedTarget reports a webhook subscriber whose address is not
	// public (loopback, private, link-local …) where the Service denies
	// those (herald.NotifyOptions.DenyPrivateTargets).
	ErrDeniedTarget = &kind{text: "herald: webhook target is not a public address", parent: ErrInvalid}

	// ErrNotFound reports a missing queue or message where one is required.
	ErrNotFound = &kind{text: "herald: not found"}
	// ErrClaimNotFound reports a claim that is unknown or has expired (C4).
	ErrClaimNotFound = &kind{text: "herald: claim not found or expired"}
	// ErrClaimMismatch reports a delete of a message under a live claim
	// without that claim's id (M8; HTTP 403).
	ErrClaimMismatch = &kind{text: "herald: message is claimed by another claim"}
	// ErrNotClaimed reports a settle (a delete under a claim) of a message
	// that the named claim does not hold: the message is under no live
	// claim (M8; HTTP 400), or it is gone (ErrMessageGone, a child of
	// this one). With ErrClaimMismatch (another live claim holds the
	// message) it covers every settle through a claim that is no longer
	// live (C3).
	ErrNotClaimed = &kind{text: "herald: message is not claimed"}
	// ErrMessageGone reports a settle under a claim of a message that no
	// longer exists: deleted (by a newer claimant, by this claim's own
	// earlier settle whose answer was lost, or by a forced delete),
	// expired or purged. Its parent is ErrNotClaimed: a claim cannot hold
	// what is gone, so a stale claim fails its settle even when the work
	// it names was already settled by someone else (C3). A delete that
	// names no claim skips missing messages instead (M8).
	ErrMessageGone = &kind{text: "herald: message is gone: already deleted, expired or purged", parent: ErrNotClaimed}
	// ErrClosed reports a call on a closed Service or Store (B3).
	ErrClosed = &kind{text: "herald: closed"}
	// ErrCorrupt reports stored data that failed its integrity check (M11,
	// D4). Bad data is never returned.
	ErrCorrupt = &kind{text: "herald: corrupt data"}
	// ErrLocked reports a store file held by another user (D4).
	ErrLocked = &kind{text: "herald: store is locked"}
	// ErrConflict reports a change that would duplicate something unique,
	// such as a second subscription of one subscriber to a queue (S1), or
	// a conditional metadata write whose expected metadata is no longer
	// current (Q3); HTTP 409.
	ErrConflict = &kind{text: "herald: conflict"}
	// ErrPoolInUse reports removing a pool that still holds queues (P3).
	ErrPoolInUse = &kind{text: "herald: pool in use"}
	// ErrCrossPool reports an operation that needs two queues on one pool
	// (P5).
	ErrCrossPool = &kind{text: "herald: queues are on different pools"}
	// ErrTooMany reports a creation refused because its project or queue
	// already holds as many queues or subscriptions as the limits allow
	// (L1, L2; see Quota). It is not an ErrInvalid: the same call is valid
	// and succeeds once something is deleted, so a caller that treats
	// ErrInvalid as a bug in its own input must not treat this one so.
	// The call changed nothing. HTTP 400, as Zaqar answers refusals.
	ErrTooMany = &kind{text: "herald: too many"}
	// ErrNoPool reports a new queue that no pool may take (P2): its
	// flavor's pools, or all pools, have weight 0 or are gone. Zaqar
	// answers 503 here.
	ErrNoPool = &kind{text: "herald: no pool can take the queue"}
	// ErrUnavailable reports a store that cannot serve now: its disk is
	// full, read-only or failing, or its database is down. It is
	// retryable, and the cause (such as syscall.ENOSPC) is wrapped, so
	// errors.Is matches both; Unavailable makes one and UnavailableReason
	// names its kind. HTTP 503.
	ErrUnavailable = &kind{text: "herald: store unavailable"}
)

// Gone returns the error for a message id that a delete under claim names
// but that no longer exists (M8, C3): it matches ErrMessageGone and
// ErrNotClaimed. Backends use it so that every store says the same.
func Gone(id, claim ID) error {
	return Errorf(ErrMessageGone, "message %s is gone (already deleted, expired or purged): claim %s cannot settle it", id, claim)
}

// NotClaimed returns the error for a message id that a delete under claim
// names but that is under no live claim (M8, C3): the claim expired or
// was released, so the message is free again, or the claim never held
// it. It matches ErrNotClaimed. Backends use it so that every store says
// the same.
func NotClaimed(id, claim ID) error {
	return Errorf(ErrNotClaimed, "message %s is not claimed: claim %s expired or was released, or never held it", id, claim)
}

// detail is an error that names the offending value and matches its kind.
type detail struct {
	kind error
	msg  string
}

func (d *detail) Error() string { return prefix + d.msg }
func (d *detail) Unwrap() error { return d.kind }

// Errorf returns an error that reads "herald: " + the formatted text and
// matches kind (and kind's parents) under errors.Is. Backends use it so that
// every error says what was wrong and with which value. An error among
// args is formatted without its own "herald: ", so that an error quoting
// another still reads with one prefix.
func Errorf(kind error, format string, args ...any) error {
	return &detail{kind: kind, msg: sprintf(format, args)}
}

// Wrapf returns err with context in front: it reads "herald: " + the
// formatted text + ": " + err's text without its own "herald: ", and
// matches what err matches under errors.Is and errors.As. Errors among
// args are formatted as in Errorf.
func Wrapf(err error, format string, args ...any) error {
	return &wrapped{msg: sprintf(format, args) + ": " + bare(err), err: err}
}

// sprintf formats args with every error among them bare.
func sprintf(format string, args []any) string {
	copied := false
	for i, a := range args {
		if e, ok := a.(error); ok {
			if !copied { // args may be the caller's own slice
				args, copied = append([]any(nil), args...), true
			}
			args[i] = bare(e)
		}
	}
	return fmt.Sprintf(format, args...)
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return prefix + w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// prefix starts every error text of herald's.
const prefix = "herald: "

// bare is err's text without a leading "herald: ".
func bare(err error) string { return strings.TrimPrefix(err.Error(), prefix) }
