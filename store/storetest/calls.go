package storetest

import (
	"context"
	"time"

	"github.com/heraldmq/herald/store"
)

// call is one Store method invoked with arguments that are valid apart from
// whatever the subtest varies (the queue, the ctx, or the store being
// closed).
type call struct {
	name string
	fn   func() error
}

// reach is what a call names, so that a subtest can take the calls its
// rule speaks of.
type reach int

const (
	onQueue   reach = iota // a queue: T1 and Q1 check its name
	onProject              // only a project (ListQueues, flavors): T1 checks it
	onStore                // neither: the whole store
)

// callArgs is what the calls of the method table act on. Each subtest
// fills it so that its check means something: T1, Q1 and B3 name one
// queue everywhere and a made-up ID (the call must fail before it looks);
// E1 names, for each call, what a live ctx would change.
type callArgs struct {
	ctx   context.Context
	q     store.QueueRef // the queue most calls act on
	fresh store.QueueRef // a queue that does not exist yet
	idle  store.QueueRef // a queue with nothing to claim
	claim store.ID       // a live claim on q
	held  store.ID       // a message claim holds
	free  store.ID       // a free message on q
	read  []store.ID     // messages on q to read
	// sub is a subscription on q, due a delivery due to be sent, and
	// failed one that failed.
	sub, due, failed store.ID
	// pool holds q's placement; flavor is one of q's project's flavors.
	pool, flavor string
}

// sameArgs acts on q everywhere, with made-up IDs.
func (f *fixture) sameArgs(q store.QueueRef) callArgs {
	some := fakeID(1)
	return callArgs{
		ctx: f.ctx, q: q, fresh: q, idle: q,
		claim: some, held: some, free: some, read: []store.ID{some},
		sub: some, due: some, failed: some,
		pool: "a", flavor: "fast",
	}
}

// calls is every method of the store (and of store.Transactor,
// store.Subscriber and store.Cataloger, where it is one) with a's
// arguments: the one table of them, so that a new method is added here
// and every subtest that walks the table (T1, Q1, B3, E1) covers it.
// Writes are ones that would change something: new metadata, a second
// subscriber, a longer claim, a flavor with another pool.
func (f *fixture) calls(a callArgs) []reachCall {
	ctx, now, q, project := a.ctx, f.now, a.q, a.q.Project
	yes, hour := true, time.Hour
	var calls []reachCall
	add := func(r reach, cs ...call) {
		for _, c := range cs {
			calls = append(calls, reachCall{r, c})
		}
	}
	add(onProject, call{"ListQueues", func() error {
		_, err := f.s.ListQueues(ctx, store.ListQueuesParams{Project: project, Limit: 10})
		return err
	}})
	add(onStore, call{"Sweep", func() error {
		_, err := f.s.Sweep(ctx, store.SweepParams{Now: now, Limit: 10})
		return err
	}})
	add(onQueue, []call{
		{"CreateQueue", func() error {
			_, err := f.s.CreateQueue(ctx, store.CreateQueueParams{Queue: a.fresh, Now: now})
			return err
		}},
		{"GetQueue", func() error {
			_, err := f.s.GetQueue(ctx, store.GetQueueParams{Queue: q})
			return err
		}},
		{"SetQueueMetadata", func() error {
			return f.s.SetQueueMetadata(ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(`{"b":2}`)})
		}},
		{"DeleteQueue", func() error { return f.s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: q}) }},
		{"QueueStats", func() error {
			_, err := f.s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
			return err
		}},
		{"PurgeQueue", func() error { return f.s.PurgeQueue(ctx, store.PurgeQueueParams{Queue: q, Now: now}) }},
		{"PostMessages", func() error {
			_, err := f.s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: now})
			return err
		}},
		{"PostMessages to a new queue", func() error {
			_, err := f.s.PostMessages(ctx, store.PostParams{Queue: a.fresh, Messages: []store.Draft{{Body: []byte("x")}}, Now: now})
			return err
		}},
		{"ListMessages", func() error {
			_, err := f.s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 10, Now: now})
			return err
		}},
		{"GetMessages", func() error {
			_, err := f.s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: a.read, Now: now})
			return err
		}},
		{"DeleteMessages", func() error {
			return f.s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{a.free}, Now: now})
		}},
		{"DeleteMessages under the claim", func() error {
			return f.s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{a.held}, Claim: a.claim, Now: now})
		}},
		{"PopMessages", func() error {
			_, err := f.s.PopMessages(ctx, store.PopParams{Queue: q, Limit: 1, Now: now})
			return err
		}},
		{"CreateClaim", func() error {
			_, err := f.s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: now})
			return err
		}},
		{"CreateClaim of an idle queue", func() error {
			_, err := f.s.CreateClaim(ctx, store.CreateClaimParams{Queue: a.idle, TTL: time.Minute, Limit: 1, Now: now})
			return err
		}},
		{"CreateClaim with Delete", func() error {
			_, err := f.s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Delete: []store.ID{a.held}, DeleteClaim: a.claim, Now: now})
			return err
		}},
		{"GetClaim", func() error {
			_, _, err := f.s.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: a.claim, Now: now})
			return err
		}},
		{"RenewClaim", func() error {
			_, err := f.s.RenewClaim(ctx, store.RenewClaimParams{Queue: q, Claim: a.claim, TTL: time.Hour, Now: now})
			return err
		}},
		{"ReleaseClaim", func() error {
			return f.s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: a.claim, Now: now})
		}},
		{"ReleaseClaim with IDs", func() error {
			return f.s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: a.claim, IDs: []store.ID{a.held}, Now: now})
		}},
	}...)
	if t, ok := f.s.(store.Transactor); ok {
		add(onQueue, call{"Transact", func() error {
			_, err := t.Transact(ctx, store.TxParams{Now: now, Ops: []store.TxOp{
				{Queue: a.idle, Post: []store.Draft{{Body: []byte("x")}}},
				{Queue: q, Delete: []store.ID{a.free}},
			}})
			return err
		}})
	}
	if sb, ok := f.s.(store.Subscriber); ok {
		add(onStore, []call{
			{"HasSubscriptions", func() error {
				_, err := sb.HasSubscriptions(ctx, now)
				return err
			}},
			{"LeaseDeliveries", func() error {
				_, _, err := sb.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: time.Minute, Now: now})
				return err
			}},
		}...)
		add(onQueue, []call{
			{"CreateSubscription", func() error {
				_, _, err := sb.CreateSubscription(ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: "http://b", TTL: time.Hour, Now: now})
				return err
			}},
			{"GetSubscription", func() error {
				_, err := sb.GetSubscription(ctx, store.GetSubscriptionParams{Queue: q, ID: a.sub, Now: now})
				return err
			}},
			{"ListSubscriptions", func() error {
				_, err := sb.ListSubscriptions(ctx, store.ListSubscriptionsParams{Queue: q, Limit: 10, Now: now})
				return err
			}},
			{"UpdateSubscription", func() error {
				_, err := sb.UpdateSubscription(ctx, store.UpdateSubscriptionParams{Queue: q, ID: a.sub, TTL: &hour, Confirmed: &yes, Now: now})
				return err
			}},
			{"DeleteSubscription", func() error {
				return sb.DeleteSubscription(ctx, store.DeleteSubscriptionParams{Queue: q, ID: a.sub})
			}},
			{"SettleDelivery", func() error {
				return sb.SettleDelivery(ctx, store.SettleDeliveryParams{Queue: q, ID: a.due, Outcome: store.Delivered, Now: now})
			}},
			{"ListFailedDeliveries", func() error {
				_, err := sb.ListFailedDeliveries(ctx, store.ListFailedDeliveriesParams{Queue: q, Limit: 10})
				return err
			}},
			{"RetryFailedDeliveries", func() error {
				_, err := sb.RetryFailedDeliveries(ctx, store.RetryFailedDeliveriesParams{Queue: q, IDs: []store.ID{a.failed}, Now: now})
				return err
			}},
		}...)
	}
	if cat, ok := f.s.(store.Cataloger); ok {
		add(onQueue, []call{
			{"GetPlacement", func() error { _, err := cat.GetPlacement(ctx, q); return err }},
			{"PutPlacement", func() error {
				return cat.PutPlacement(ctx, store.Placement{Queue: a.idle, Pool: "b", Created: now})
			}},
			{"DeletePlacement", func() error { return cat.DeletePlacement(ctx, q) }},
		}...)
		add(onStore, call{"PoolPlacements", func() error {
			_, err := cat.PoolPlacements(ctx, store.PoolPlacementsParams{Pool: a.pool, Limit: 10})
			return err
		}})
		add(onProject, []call{
			{"ListPlacements", func() error {
				_, err := cat.ListPlacements(ctx, store.ListPlacementsParams{Project: project, Limit: 10})
				return err
			}},
			{"GetFlavor", func() error { _, err := cat.GetFlavor(ctx, project, a.flavor); return err }},
			{"PutFlavor", func() error {
				return cat.PutFlavor(ctx, store.FlavorRecord{Project: project, Name: "slow", Pools: []string{"b"}})
			}},
			{"DeleteFlavor", func() error { return cat.DeleteFlavor(ctx, project, a.flavor) }},
			{"ListFlavors", func() error {
				_, err := cat.ListFlavors(ctx, store.ListFlavorsParams{Project: project, Limit: 10})
				return err
			}},
		}...)
	}
	return calls
}

// reachCall is a call and what it names.
type reachCall struct {
	reach reach
	call
}

// reaching keeps the calls that name one of rs.
func reaching(calls []reachCall, rs ...reach) []call {
	var out []call
	for _, c := range calls {
		for _, r := range rs {
			if c.reach == r {
				out = append(out, c.call)
				break
			}
		}
	}
	return out
}

// queueCalls calls every method that takes a QueueRef, on q, with made-up
// IDs. Q1 uses it to show that no method family escapes the name check;
// T1 adds the calls that name only a project, B3 takes the whole table.
func (f *fixture) queueCalls(q store.QueueRef) []call {
	return reaching(f.calls(f.sameArgs(q)), onQueue)
}
