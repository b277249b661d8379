package store

import (
	"context"
	"encoding/json"
	"time"
)

// Subscriber is an optional ability of a Store: subscriptions as data (S1)
// and the outbox of their deliveries (S2). Find it by type assertion:
//
//	if sub, ok := st.(store.Subscriber); ok { ... }
//
// A store that implements it records, in the same transaction as every
// PostMessages (and every post of Transactor.Transact), one Delivery per
// live subscription of the queue, so that a crash between a post and its
// notifications never drops one. Subscriptions expire after their TTL: an
// expired one is invisible to every method and gets no deliveries, and
// Sweep removes it (counted in SweepResult.Subscriptions) with its pending
// deliveries. DeleteQueue and DeleteSubscription remove them at once;
// PurgeQueue leaves both alone (purge is about messages).
//
// Deliveries are leased, not popped: LeaseDeliveries makes due ones
// invisible for a while and hands them out; the caller then settles each
// with SettleDelivery. A caller that dies mid-send loses nothing: the
// lease ends and the delivery is handed out again (at-least-once).
type Subscriber interface {
	// CreateSubscription creates a subscription and reports true, or
	// returns the live one with the same (project, queue, subscriber) and
	// reports false, unchanged (S1). The queue is created if missing (Q2).
	CreateSubscription(ctx context.Context, p CreateSubscriptionParams) (Subscription, bool, error)
	// GetSubscription returns a live subscription, or ErrNotFound.
	GetSubscription(ctx context.Context, p GetSubscriptionParams) (Subscription, error)
	// ListSubscriptions lists a queue's live subscriptions in ID order
	// after the marker. A missing queue gives an empty list.
	ListSubscriptions(ctx context.Context, p ListSubscriptionsParams) ([]Subscription, error)
	// UpdateSubscription changes what the params set, or returns
	// ErrNotFound. A new TTL counts from Now. A subscriber that another live
	// subscription of the queue has gives ErrConflict and changes nothing.
	UpdateSubscription(ctx context.Context, p UpdateSubscriptionParams) (Subscription, error)
	// DeleteSubscription removes a subscription with its deliveries,
	// pending and failed. A missing one is not an error.
	DeleteSubscription(ctx context.Context, p DeleteSubscriptionParams) error

	// HasSubscriptions reports whether any queue of the store may have a
	// live subscription, so a caller can skip delivery work when none
	// does: false means none; true may count expired ones not yet swept.
	HasSubscriptions(ctx context.Context, now time.Time) (bool, error)

	// LeaseDeliveries returns up to Limit pending deliveries due at Now
	// (NextAttempt <= Now), oldest due first, across every queue of the
	// store, and makes each invisible until Now+Lease. It also returns when
	// the next pending delivery is due (zero if none), so the caller can
	// sleep until then.
	LeaseDeliveries(ctx context.Context, p LeaseDeliveriesParams) ([]Delivery, time.Time, error)
	// SettleDelivery records the outcome of an attempt: Delivered removes
	// the delivery; Retry makes it due again at RetryAt; Failed keeps it,
	// no longer due, for ListFailedDeliveries. A delivery that no longer
	// exists (its subscription or queue was deleted) is not an error.
	SettleDelivery(ctx context.Context, p SettleDeliveryParams) error
	// ListFailedDeliveries lists a queue's failed deliveries in ID order
	// after the marker, those of one subscription if Subscription is set.
	ListFailedDeliveries(ctx context.Context, p ListFailedDeliveriesParams) ([]Delivery, error)
	// RetryFailedDeliveries makes the given failed deliveries of the queue
	// pending and due at Now, with Attempts reset; IDs that are not failed
	// deliveries of the queue are skipped. It returns how many it revived.
	RetryFailedDeliveries(ctx context.Context, p RetryFailedDeliveriesParams) (int, error)
}

// Subscription ties a subscriber to a queue (S1).
type Subscription struct {
	ID    ID
	Queue QueueRef
	// Subscriber is the URI deliveries go to (http, https, mailto), or an
	// in-process handler's name; the store does not interpret it.
	Subscriber string
	TTL        time.Duration
	// Options is a JSON object; the store does not interpret it.
	Options   json.RawMessage
	Confirmed bool
	Created   time.Time
	// Expires is Created (or the last TTL change) plus TTL.
	Expires time.Time
}

// Delivery is one message to send to one subscription.
type Delivery struct {
	ID           ID
	Subscription ID
	Subscriber   string
	Queue        QueueRef
	// Message, Body and TTL are the posted message's, copied at post time:
	// the delivery does not depend on the message still existing.
	Message ID
	Body    []byte
	TTL     time.Duration
	// Attempts counts settled attempts that did not deliver.
	Attempts int
	// NextAttempt is when the delivery is due (pending) or was last tried
	// (failed).
	NextAttempt time.Time
	Failed      bool
	// LastError says why the last attempt did not deliver.
	LastError string
	Created   time.Time
}

// CreateSubscriptionParams are the arguments of CreateSubscription.
type CreateSubscriptionParams struct {
	Queue      QueueRef
	Subscriber string
	// TTL is more than zero.
	TTL time.Duration
	// Options is a JSON object; nil means {}.
	Options json.RawMessage
	// Confirmed sets the new subscription's confirmed flag (S5: false
	// when confirmation is required).
	Confirmed bool
	// Quota bounds the queue's subscriptions (L2) and, when the call
	// creates the queue (Q2), the project's queues (L1): ErrTooMany, and
	// nothing changes.
	Quota Quota
	Now   time.Time
}

// GetSubscriptionParams are the arguments of GetSubscription.
type GetSubscriptionParams struct {
	Queue QueueRef
	ID    ID
	Now   time.Time
}

// ListSubscriptionsParams are the arguments of ListSubscriptions.
type ListSubscriptionsParams struct {
	Queue QueueRef
	// Marker is exclusive.
	Marker ID
	// Limit is at least 1.
	Limit int
	Now   time.Time
}

// UpdateSubscriptionParams are the arguments of UpdateSubscription. Nil
// fields are left as they are.
type UpdateSubscriptionParams struct {
	Queue      QueueRef
	ID         ID
	Subscriber *string
	TTL        *time.Duration
	Options    json.RawMessage
	Confirmed  *bool
	Now        time.Time
}

// DeleteSubscriptionParams are the arguments of DeleteSubscription.
type DeleteSubscriptionParams struct {
	Queue QueueRef
	ID    ID
}

// LeaseDeliveriesParams are the arguments of LeaseDeliveries.
type LeaseDeliveriesParams struct {
	// Limit is at least 1.
	Limit int
	// Lease is more than zero.
	Lease time.Duration
	// PerProject, when more than zero, makes the lease fair across
	// projects (L3): the store takes each project's due deliveries, oldest
	// first, at most PerProject of them, one project after another in name
	// order starting at the first project at or after From and wrapping
	// around, until it has Limit. So one project's backlog, however old,
	// never hides another project's due deliveries. Stores keep a due
	// index per project for it: the cost follows the projects with
	// deliveries pending and the deliveries taken, not the backlog. Zero
	// takes the oldest due first across every project, and ignores From.
	PerProject int
	From       string
	Now        time.Time
}

// Outcome is how a delivery attempt ended.
type Outcome int

const (
	// Delivered: the subscriber has it; the delivery is removed.
	Delivered Outcome = iota + 1
	// Retry: try again at RetryAt.
	Retry
	// Failed: give up; keep it for listing and a manual retry.
	Failed
)

// SettleDeliveryParams are the arguments of SettleDelivery.
type SettleDeliveryParams struct {
	Queue QueueRef
	ID    ID
	// Subscription, when set, is the delivery's (Delivery.Subscription):
	// a store may then find the delivery with one seek.
	Subscription ID
	Outcome      Outcome
	// RetryAt is when a Retry is due.
	RetryAt time.Time
	// Error is why the attempt did not deliver (Retry, Failed).
	Error string
	Now   time.Time
}

// ListFailedDeliveriesParams are the arguments of ListFailedDeliveries.
type ListFailedDeliveriesParams struct {
	Queue QueueRef
	// Subscription, when set, keeps only that subscription's.
	Subscription ID
	// Marker is exclusive.
	Marker ID
	// Limit is at least 1.
	Limit int
}

// RetryFailedDeliveriesParams are the arguments of RetryFailedDeliveries.
type RetryFailedDeliveriesParams struct {
	Queue QueueRef
	IDs   []ID
	Now   time.Time
}
