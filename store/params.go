package store

import (
	"bytes"
	"encoding/json"
	"time"
)

// Every params struct carries Now, the caller's clock. A store never reads
// the clock; it treats time as never going backwards by using the latest Now
// it has seen, so a clock that steps back cannot revive an expired message
// or a second live claim.

// CreateQueueParams are the arguments of Store.CreateQueue.
type CreateQueueParams struct {
	Queue QueueRef
	// Metadata is a JSON object; nil means {}.
	Metadata json.RawMessage
	// Quota bounds the project's queues (L1): creating one more past
	// QueuesPerProject gives ErrTooMany. An existing queue is found, not
	// created, and never refused.
	Quota Quota
	Now   time.Time
}

// GetQueueParams are the arguments of Store.GetQueue.
type GetQueueParams struct {
	Queue QueueRef
}

// SetQueueMetadataParams are the arguments of Store.SetQueueMetadata.
type SetQueueMetadataParams struct {
	Queue    QueueRef
	Metadata json.RawMessage
	// Expected makes the write a compare-and-swap: it happens only if the
	// queue's stored metadata is, byte for byte, Expected — what GetQueue
	// returned when the caller read it (stored metadata that is empty
	// counts as {}). Otherwise SetQueueMetadata returns ErrConflict and
	// changes nothing. Empty (the zero value) writes unconditionally.
	Expected json.RawMessage
}

// CheckExpected returns nil if p is unconditional or current, the queue's
// stored metadata, is p.Expected; otherwise ErrConflict. A store calls it
// in the same critical section or transaction as the write it guards.
func (p SetQueueMetadataParams) CheckExpected(current json.RawMessage) error {
	if len(p.Expected) == 0 {
		return nil
	}
	if len(bytes.TrimSpace(current)) == 0 {
		current = json.RawMessage("{}")
	}
	if !bytes.Equal(current, p.Expected) {
		return Errorf(ErrConflict, "queue %q in project %q: metadata changed since it was read", p.Queue.Name, p.Queue.Project)
	}
	return nil
}

// DeleteQueueParams are the arguments of Store.DeleteQueue.
type DeleteQueueParams struct {
	Queue QueueRef
}

// ListQueuesParams are the arguments of Store.ListQueues.
type ListQueuesParams struct {
	Project string
	// Marker is exclusive: the listing starts after this name.
	Marker string
	// Limit is the page size, at least 1.
	Limit        int
	WithMetadata bool
}

// QueueStatsParams are the arguments of Store.QueueStats.
type QueueStatsParams struct {
	Queue QueueRef
	Now   time.Time
}

// PurgeQueueParams are the arguments of Store.PurgeQueue.
type PurgeQueueParams struct {
	Queue QueueRef
	Now   time.Time
}

// Draft is one message to post.
type Draft struct {
	Body []byte
	// TTL is the message lifetime; zero means the queue's
	// _default_message_ttl, else PostParams.DefaultTTL, else
	// DefaultMessageTTL.
	TTL time.Duration
	// Delay hides the message from claims for this long (M5); zero means
	// the queue's _default_message_delay.
	Delay time.Duration
	// DedupID, when set, makes a repeated post within the dedup window
	// store nothing and return the first message's ID (M10).
	DedupID string
}

// PostParams are the arguments of Store.PostMessages.
type PostParams struct {
	Queue    QueueRef
	Messages []Draft
	ClientID string
	// DefaultTTL applies when neither the draft nor the queue sets a TTL;
	// zero means DefaultMessageTTL.
	DefaultTTL time.Duration
	// DedupWindow is how long a DedupID is remembered; zero means
	// DefaultDedupWindow.
	DedupWindow time.Duration
	// ConfirmedOnly limits the deliveries a Subscriber store records to
	// confirmed subscriptions (S5).
	ConfirmedOnly bool
	// Quota bounds the project's queues when the post creates its queue
	// (Q2, L1): ErrTooMany, and nothing is stored.
	Quota Quota
	Now   time.Time
}

// ListMessagesParams are the arguments of Store.ListMessages.
type ListMessagesParams struct {
	Queue QueueRef
	// Marker is exclusive: the listing starts after this ID.
	Marker ID
	// Limit is the page size, at least 1.
	Limit          int
	IncludeClaimed bool
	IncludeDelayed bool
	// ClientID and Echo implement the echo rule (M6): with a ClientID and
	// Echo false, messages posted by that client are left out.
	ClientID string
	Echo     bool
	Now      time.Time
}

// GetMessagesParams are the arguments of Store.GetMessages.
type GetMessagesParams struct {
	Queue QueueRef
	IDs   []ID
	Now   time.Time
}

// DeleteMessagesParams are the arguments of Store.DeleteMessages.
type DeleteMessagesParams struct {
	Queue QueueRef
	IDs   []ID
	// Claim, when non-zero, is the live claim every named message must be
	// held by (M8, C3); a missing message then fails the call
	// (ErrMessageGone) instead of being skipped. See
	// MessageStore.DeleteMessages.
	Claim ID
	// IgnoreClaims deletes the messages whatever their claim state (Zaqar's
	// bulk delete); Claim must then be zero.
	IgnoreClaims bool
	Now          time.Time
}

// PopParams are the arguments of Store.PopMessages.
type PopParams struct {
	Queue QueueRef
	// Limit is how many messages to take at most, at least 1.
	Limit int
	Now   time.Time
}

// CreateClaimParams are the arguments of Store.CreateClaim.
type CreateClaimParams struct {
	Queue QueueRef
	// TTL is the claim lifetime, more than zero.
	TTL time.Duration
	// Grace extends claimed messages past the claim's expiry (C2); at least
	// zero.
	Grace time.Duration
	// Limit is how many messages to claim at most, at least 1.
	Limit int
	// Delete, when not empty, lists messages to delete under DeleteClaim
	// in the same transaction, before claiming: a consumer acknowledges
	// the batch it handled and takes the next for one commit. The delete
	// follows M8 with DeleteClaim (which must then be non-zero) as the
	// claim: every listed message must be held by that live claim, a
	// missing one included (ErrMessageGone); if it fails, nothing changes
	// and CreateClaim returns its error. Empty means a plain claim. Every Store must honour it (a
	// store that ignored it would leave handled messages to be handled
	// again); storetest's M8/DeleteAndClaim* subtests check it.
	Delete      []ID
	DeleteClaim ID
	Now         time.Time
}

// Check validates p as every store must before claiming: queue name, claim
// times, limit, and a Delete that names its claim and no zero id.
func (p *CreateClaimParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	if err := CheckClaimTimes(p.TTL, p.Grace); err != nil {
		return err
	}
	if err := CheckLimit(p.Limit, "claim limit"); err != nil {
		return err
	}
	if len(p.Delete) > 0 && p.DeleteClaim.IsZero() {
		return Errorf(ErrInvalid, "claim: deleting %d messages needs the claim that holds them", len(p.Delete))
	}
	return CheckIDs("message id", p.Delete...)
}

// DeleteParams returns the delete p asks for before its claim.
func (p *CreateClaimParams) DeleteParams() DeleteMessagesParams {
	return DeleteMessagesParams{Queue: p.Queue, IDs: p.Delete, Claim: p.DeleteClaim, Now: p.Now}
}

// GetClaimParams are the arguments of Store.GetClaim.
type GetClaimParams struct {
	Queue QueueRef
	Claim ID
	Now   time.Time
}

// RenewClaimParams are the arguments of Store.RenewClaim.
type RenewClaimParams struct {
	Queue QueueRef
	Claim ID
	TTL   time.Duration
	Grace time.Duration
	Now   time.Time
}

// ReleaseClaimParams are the arguments of Store.ReleaseClaim.
type ReleaseClaimParams struct {
	Queue QueueRef
	Claim ID
	// Delay keeps the released messages invisible for this long (C5).
	Delay time.Duration
	// IDs, when not empty, releases only these messages; the claim keeps
	// the rest and stays live while it holds any. IDs the claim does not
	// hold are skipped. Empty releases every message of the claim.
	IDs []ID
	// Unstarted says the released messages were never worked on: each
	// gets back the claim count this claim added (J1), so handing back
	// work unstarted does not bring it closer to _max_claim_count (C6).
	// Only messages the live claim holds are touched; a count never goes
	// below zero. False keeps the counts (C4, C5).
	Unstarted bool
	Now       time.Time
}

// SweepParams are the arguments of Store.Sweep.
type SweepParams struct {
	Now time.Time
	// Limit bounds the items removed by one call (B1), at least 1.
	Limit int
}

// Check validates p as every store must before reading: queue name and no
// zero id.
func (p *GetMessagesParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckIDs("message id", p.IDs...)
}

// Check validates p as every store must before deleting: queue name, no
// zero id, and no claim with IgnoreClaims.
func (p *DeleteMessagesParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	if p.IgnoreClaims && !p.Claim.IsZero() {
		return Errorf(ErrInvalid, "delete: a claim %s with IgnoreClaims", p.Claim)
	}
	return CheckIDs("message id", p.IDs...)
}

// Check validates p as every store must before reading the claim: queue
// name and a claim id that is not zero.
func (p *GetClaimParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckIDs("claim id", p.Claim)
}

// Check validates p as every store must before renewing: queue name, a
// claim id that is not zero, and the claim times.
func (p *RenewClaimParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	if err := CheckIDs("claim id", p.Claim); err != nil {
		return err
	}
	return CheckClaimTimes(p.TTL, p.Grace)
}

// Check validates p as every store must before releasing: queue name, a
// delay of at least zero, a claim id that is not zero and no zero message
// id.
func (p *ReleaseClaimParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	if p.Delay < 0 {
		return Errorf(ErrInvalidDelay, "release delay %v: negative", p.Delay)
	}
	if err := CheckIDs("claim id", p.Claim); err != nil {
		return err
	}
	return CheckIDs("message id", p.IDs...)
}

// Check validates p as every store must before reading the subscription:
// queue name and a subscription id that is not zero (I1).
func (p *GetSubscriptionParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckIDs("subscription id", p.ID)
}

// Check validates p as every store must before deleting the subscription:
// queue name and a subscription id that is not zero (I1).
func (p *DeleteSubscriptionParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckIDs("subscription id", p.ID)
}

// Check validates p as every store must before retrying: queue name and
// no zero delivery id (I1). No ids means every failed delivery.
func (p *RetryFailedDeliveriesParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckIDs("delivery id", p.IDs...)
}

// Check validates p as every store must before forgetting damaged
// messages: queue name and no zero message id (I1).
func (p *DeleteDamagedParams) Check() error {
	if err := p.Queue.Check(); err != nil {
		return err
	}
	return CheckIDs("message id", p.IDs...)
}
