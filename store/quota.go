package store

// Quota bounds how much one project may create in a store (L1, L2). The
// store checks it in the same transaction or critical section as the
// creation it bounds, against counts it keeps as it creates and removes
// (no scan grows with what is stored), so concurrent creations at the
// limit cannot both pass. A zero field means no bound: the store applies
// only what the caller passes, and a herald Service always passes its
// Limits.
type Quota struct {
	// QueuesPerProject bounds the queues of one project in the store (L1).
	// Every call that creates a queue checks it: CreateQueue, a post that
	// creates its queue (Q2, also in Transact), CreateSubscription on a
	// missing queue. One creation is exempt: the move of a claimed message
	// to a missing dead-letter queue (C6) creates it whatever the count,
	// because refusing it would either lose the message or leave it stuck
	// at the head of its queue; the new queue counts, so the project is
	// then over the bound until it deletes queues.
	QueuesPerProject int
	// SubscriptionsPerQueue bounds the subscriptions of one queue (L2),
	// checked by CreateSubscription. Every stored subscription counts,
	// also an expired one until the sweep removes it (B1): the bound is on
	// what the store keeps and what a post's fan-out walks. Returning the
	// existing live subscription of the same subscriber (S1) is not a
	// creation and is never refused.
	SubscriptionsPerQueue int
}

// QueueCapErr is the error of a queue creation refused by
// Quota.QueuesPerProject: the project holds n queues already.
func QueueCapErr(ref QueueRef, n, limit int) error {
	return Errorf(ErrTooMany, "queue %q in project %q: the project has %d queues, the limit (Limits.MaxQueuesPerProject %d); delete one first", ref.Name, ref.Project, n, limit)
}

// SubscriptionCapErr is the error of a subscription refused by
// Quota.SubscriptionsPerQueue: the queue holds n subscriptions already.
func SubscriptionCapErr(ref QueueRef, n, limit int) error {
	return Errorf(ErrTooMany, "subscription to queue %q in project %q: the queue has %d subscriptions, the limit (Limits.MaxSubscriptionsPerQueue %d; expired ones count until swept); delete one first", ref.Name, ref.Project, n, limit)
}

// Admits reports whether a project or queue holding n of something may
// get one more under limit (0: no bound).
func Admits(n, limit int) bool { return limit <= 0 || n < limit }
