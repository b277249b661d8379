package storetest

import (
	"time"

	"github.com/heraldmq/herald/store"
)

// call is one Store method invoked with arguments that are valid apart from
// whatever the subtest varies (the queue, or the store being closed).
type call struct {
	name string
	fn   func() error
}

// queueCalls calls every Store method that takes a QueueRef, on q, and
// Transact (a post and a delete on q) when the store is a
// store.Transactor. T1, Q1 and B3 use it to show that no method family
// escapes a check.
func (f *fixture) queueCalls(q store.QueueRef) []call {
	ctx, now, some := f.ctx, f.now, fakeID(1)
	calls := []call{
		{"CreateQueue", func() error {
			_, err := f.s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: now})
			return err
		}},
		{"GetQueue", func() error {
			_, err := f.s.GetQueue(ctx, store.GetQueueParams{Queue: q})
			return err
		}},
		{"SetQueueMetadata", func() error {
			return f.s.SetQueueMetadata(ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(`{"a":1}`)})
		}},
		{"DeleteQueue", func() error {
			return f.s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: q})
		}},
		{"QueueStats", func() error {
			_, err := f.s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
			return err
		}},
		{"PurgeQueue", func() error {
			return f.s.PurgeQueue(ctx, store.PurgeQueueParams{Queue: q, Now: now})
		}},
		{"PostMessages", func() error {
			_, err := f.s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: now})
			return err
		}},
		{"ListMessages", func() error {
			_, err := f.s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 10, Now: now})
			return err
		}},
		{"GetMessages", func() error {
			_, err := f.s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: []store.ID{some}, Now: now})
			return err
		}},
		{"DeleteMessages", func() error {
			return f.s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{some}, Now: now})
		}},
		{"PopMessages", func() error {
			_, err := f.s.PopMessages(ctx, store.PopParams{Queue: q, Limit: 1, Now: now})
			return err
		}},
		{"CreateClaim", func() error {
			_, err := f.s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: now})
			return err
		}},
		{"GetClaim", func() error {
			_, _, err := f.s.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: some, Now: now})
			return err
		}},
		{"RenewClaim", func() error {
			_, err := f.s.RenewClaim(ctx, store.RenewClaimParams{Queue: q, Claim: some, TTL: time.Minute, Now: now})
			return err
		}},
		{"ReleaseClaim", func() error {
			return f.s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: some, Now: now})
		}},
		{"ReleaseClaim with IDs", func() error {
			return f.s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: some, IDs: []store.ID{some}, Now: now})
		}},
	}
	if t, ok := f.s.(store.Transactor); ok {
		calls = append(calls, call{"Transact", func() error {
			_, err := t.Transact(ctx, store.TxParams{Now: now, Ops: []store.TxOp{
				{Queue: q, Post: []store.Draft{{Body: []byte("x")}}},
				{Queue: q, Delete: []store.ID{some}},
			}})
			return err
		}})
	}
	if sb, ok := f.s.(store.Subscriber); ok {
		calls = append(calls, subscriptionCalls(f, sb, q)...)
	}
	return calls
}

// subscriptionCalls calls every store.Subscriber method that takes a
// QueueRef, on q.
func subscriptionCalls(f *fixture, sb store.Subscriber, q store.QueueRef) []call {
	ctx, now, some := f.ctx, f.now, fakeID(1)
	yes := true
	return []call{
		{"CreateSubscription", func() error {
			_, _, err := sb.CreateSubscription(ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Hour, Now: now})
			return err
		}},
		{"GetSubscription", func() error {
			_, err := sb.GetSubscription(ctx, store.GetSubscriptionParams{Queue: q, ID: some, Now: now})
			return err
		}},
		{"ListSubscriptions", func() error {
			_, err := sb.ListSubscriptions(ctx, store.ListSubscriptionsParams{Queue: q, Limit: 10, Now: now})
			return err
		}},
		{"UpdateSubscription", func() error {
			_, err := sb.UpdateSubscription(ctx, store.UpdateSubscriptionParams{Queue: q, ID: some, Confirmed: &yes, Now: now})
			return err
		}},
		{"DeleteSubscription", func() error {
			return sb.DeleteSubscription(ctx, store.DeleteSubscriptionParams{Queue: q, ID: some})
		}},
		{"SettleDelivery", func() error {
			return sb.SettleDelivery(ctx, store.SettleDeliveryParams{Queue: q, ID: some, Outcome: store.Delivered, Now: now})
		}},
		{"ListFailedDeliveries", func() error {
			_, err := sb.ListFailedDeliveries(ctx, store.ListFailedDeliveriesParams{Queue: q, Limit: 10})
			return err
		}},
		{"RetryFailedDeliveries", func() error {
			_, err := sb.RetryFailedDeliveries(ctx, store.RetryFailedDeliveriesParams{Queue: q, IDs: []store.ID{some}, Now: now})
			return err
		}},
	}
}

// outboxCalls calls the store.Subscriber methods that span the store,
// when the store is one.
func (f *fixture) outboxCalls() []call {
	sb, ok := f.s.(store.Subscriber)
	if !ok {
		return nil
	}
	return []call{
		{"HasSubscriptions", func() error {
			_, err := sb.HasSubscriptions(f.ctx, f.now)
			return err
		}},
		{"LeaseDeliveries", func() error {
			_, _, err := sb.LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: time.Minute, Now: f.now})
			return err
		}},
	}
}

// listQueuesCall lists a project's queues.
func (f *fixture) listQueuesCall(project string) call {
	return call{"ListQueues", func() error {
		_, err := f.s.ListQueues(f.ctx, store.ListQueuesParams{Project: project, Limit: 10})
		return err
	}}
}

// sweepCall sweeps the whole store.
func (f *fixture) sweepCall() call {
	return call{"Sweep", func() error {
		_, err := f.s.Sweep(f.ctx, store.SweepParams{Now: f.now, Limit: 10})
		return err
	}}
}
