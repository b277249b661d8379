package storetest

import (
	"context"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var cancelTests = []subtest{
	{"E1/DoneCtxChangesNothing", testDoneCtx},
}

// everything is what a caller can read back from the store: the queues'
// snapshots and list, and, where the store has them, subscriptions,
// failed deliveries, placements and flavors.
type everything struct {
	Queues        []snapshot
	Names         []string
	Subscriptions []store.Subscription
	Failed        []store.Delivery
	Placements    []store.Placement
	Flavors       []store.FlavorRecord
}

func (f *fixture) everything(qs ...store.QueueRef) everything {
	f.t.Helper()
	e := everything{Queues: f.snapshots(qs...), Names: f.queueNames("p")}
	if sb, ok := f.s.(store.Subscriber); ok {
		for _, q := range qs {
			e.Subscriptions = append(e.Subscriptions, f.subs(q)...)
			failed, err := sb.ListFailedDeliveries(f.ctx, store.ListFailedDeliveriesParams{Queue: q, Limit: pageSize})
			require.NoError(f.t, err)
			e.Failed = append(e.Failed, failed...)
		}
	}
	if c, ok := f.s.(store.Cataloger); ok {
		var err error
		e.Placements, err = c.ListPlacements(f.ctx, store.ListPlacementsParams{Project: "p", Limit: pageSize})
		require.NoError(f.t, err)
		e.Flavors, err = c.ListFlavors(f.ctx, store.ListFlavorsParams{Project: "p", Limit: pageSize})
		require.NoError(f.t, err)
	}
	return e
}

// testDoneCtx: every method called with a ctx that is already done
// returns ctx.Err() and changes nothing, reads included, even a call that
// would have found nothing to do (an idle claim, nothing due). The store
// is set up so that each write, with a live ctx, would change something:
// free, claimed, expired and delayed messages, a live claim, a
// subscription with a due and a failed delivery, a placement, a flavor.
func testDoneCtx(f *fixture) {
	q, other, fresh := ref("q"), ref("other"), ref("fresh")
	f.create(q, `{"a":1}`)
	f.create(other, "")
	var sub store.Subscription
	var due, failed store.Delivery
	if _, ok := f.s.(store.Subscriber); ok {
		sub = f.subscribe(q, "http://a")
		f.post(q, "d1", "d2")
		ds := f.leaseAll()
		require.Len(f.t, ds, 2)
		due, failed = ds[0], ds[1]
		f.settle(failed, store.Failed, time.Time{}, "gave up")
		f.pop(q, 2) // the deliveries keep copies; the claim below takes m0 and m1
	}
	if _, ok := f.s.(store.Cataloger); ok {
		f.place(q, "a")
		require.NoError(f.t, f.cataloger().PutFlavor(f.ctx, store.FlavorRecord{Project: "p", Name: "fast", Pools: []string{"a"}}))
	}
	f.postDrafts(q, store.Draft{Body: []byte("later"), Delay: time.Hour})
	// "short" expires with the step below; nothing writes to its queue
	// again, so only a sweep removes it. The leased delivery falls due.
	f.postDrafts(ref("old"), store.Draft{Body: []byte("short"), TTL: time.Second})
	f.advance(2 * time.Minute)
	posted := f.post(q, "m0", "m1", "m2", "m3")
	c := f.claim(q, 2).Claim.ID
	f.requireHeld(q, c, posted[:2]...)
	idle := f.claim(other, 1)
	require.Empty(f.t, idle.Messages)

	done, cancel := context.WithCancel(context.Background())
	cancel()
	ctx, now := done, f.now
	m3 := posted[3]
	yes, hour := true, time.Hour
	calls := []call{
		{"CreateQueue", func() error {
			_, err := f.s.CreateQueue(ctx, store.CreateQueueParams{Queue: fresh, Now: now})
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
		{"ListQueues", func() error {
			_, err := f.s.ListQueues(ctx, store.ListQueuesParams{Project: "p", Limit: 10})
			return err
		}},
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
			_, err := f.s.PostMessages(ctx, store.PostParams{Queue: fresh, Messages: []store.Draft{{Body: []byte("x")}}, Now: now})
			return err
		}},
		{"ListMessages", func() error {
			_, err := f.s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 10, Now: now})
			return err
		}},
		{"GetMessages", func() error {
			_, err := f.s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: posted, Now: now})
			return err
		}},
		{"DeleteMessages", func() error {
			return f.s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{m3}, Now: now})
		}},
		{"DeleteMessages under the claim", func() error {
			return f.s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: posted[:1], Claim: c, Now: now})
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
			_, err := f.s.CreateClaim(ctx, store.CreateClaimParams{Queue: other, TTL: time.Minute, Limit: 1, Now: now})
			return err
		}},
		{"CreateClaim with Delete", func() error {
			_, err := f.s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Delete: posted[:1], DeleteClaim: c, Now: now})
			return err
		}},
		{"GetClaim", func() error {
			_, _, err := f.s.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: c, Now: now})
			return err
		}},
		{"RenewClaim", func() error {
			_, err := f.s.RenewClaim(ctx, store.RenewClaimParams{Queue: q, Claim: c, TTL: time.Hour, Now: now})
			return err
		}},
		{"ReleaseClaim", func() error {
			return f.s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: c, Now: now})
		}},
		{"ReleaseClaim with IDs", func() error {
			return f.s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: c, IDs: posted[:1], Now: now})
		}},
		{"Sweep", func() error {
			_, err := f.s.Sweep(ctx, store.SweepParams{Now: now, Limit: 10})
			return err
		}},
	}
	if t, ok := f.s.(store.Transactor); ok {
		calls = append(calls, call{"Transact", func() error {
			_, err := t.Transact(ctx, store.TxParams{Now: now, Ops: []store.TxOp{
				{Queue: other, Post: []store.Draft{{Body: []byte("x")}}},
				{Queue: q, Delete: []store.ID{m3}},
			}})
			return err
		}})
	}
	if sb, ok := f.s.(store.Subscriber); ok {
		calls = append(calls, []call{
			{"CreateSubscription", func() error {
				_, _, err := sb.CreateSubscription(ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: "http://b", TTL: time.Hour, Now: now})
				return err
			}},
			{"GetSubscription", func() error {
				_, err := sb.GetSubscription(ctx, store.GetSubscriptionParams{Queue: q, ID: sub.ID, Now: now})
				return err
			}},
			{"ListSubscriptions", func() error {
				_, err := sb.ListSubscriptions(ctx, store.ListSubscriptionsParams{Queue: q, Limit: 10, Now: now})
				return err
			}},
			{"UpdateSubscription", func() error {
				_, err := sb.UpdateSubscription(ctx, store.UpdateSubscriptionParams{Queue: q, ID: sub.ID, TTL: &hour, Confirmed: &yes, Now: now})
				return err
			}},
			{"DeleteSubscription", func() error {
				return sb.DeleteSubscription(ctx, store.DeleteSubscriptionParams{Queue: q, ID: sub.ID})
			}},
			{"HasSubscriptions", func() error {
				_, err := sb.HasSubscriptions(ctx, now)
				return err
			}},
			{"LeaseDeliveries", func() error {
				_, _, err := sb.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: time.Minute, Now: now})
				return err
			}},
			{"SettleDelivery", func() error {
				return sb.SettleDelivery(ctx, store.SettleDeliveryParams{Queue: q, ID: due.ID, Outcome: store.Delivered, Now: now})
			}},
			{"ListFailedDeliveries", func() error {
				_, err := sb.ListFailedDeliveries(ctx, store.ListFailedDeliveriesParams{Queue: q, Limit: 10})
				return err
			}},
			{"RetryFailedDeliveries", func() error {
				_, err := sb.RetryFailedDeliveries(ctx, store.RetryFailedDeliveriesParams{Queue: q, IDs: []store.ID{failed.ID}, Now: now})
				return err
			}},
		}...)
	}
	if cat, ok := f.s.(store.Cataloger); ok {
		calls = append(calls, []call{
			{"GetPlacement", func() error { _, err := cat.GetPlacement(ctx, q); return err }},
			{"PutPlacement", func() error {
				return cat.PutPlacement(ctx, store.Placement{Queue: other, Pool: "b", Created: now})
			}},
			{"DeletePlacement", func() error { return cat.DeletePlacement(ctx, q) }},
			{"ListPlacements", func() error {
				_, err := cat.ListPlacements(ctx, store.ListPlacementsParams{Project: "p", Limit: 10})
				return err
			}},
			{"PoolPlacements", func() error {
				_, err := cat.PoolPlacements(ctx, store.PoolPlacementsParams{Pool: "a", Limit: 10})
				return err
			}},
			{"GetFlavor", func() error { _, err := cat.GetFlavor(ctx, "p", "fast"); return err }},
			{"PutFlavor", func() error {
				return cat.PutFlavor(ctx, store.FlavorRecord{Project: "p", Name: "slow", Pools: []string{"b"}})
			}},
			{"DeleteFlavor", func() error { return cat.DeleteFlavor(ctx, "p", "fast") }},
			{"ListFlavors", func() error {
				_, err := cat.ListFlavors(ctx, store.ListFlavorsParams{Project: "p", Limit: 10})
				return err
			}},
		}...)
	}

	before := f.everything(q, other)
	for _, c := range calls {
		var err error
		require.NotPanics(f.t, func() { err = c.fn() }, c.name)
		require.ErrorIs(f.t, err, context.Canceled, "%s with a cancelled ctx", c.name)
		require.Equal(f.t, before, f.everything(q, other), "%s with a cancelled ctx changed the store", c.name)
	}

	// What a snapshot cannot show was not done either: the expired
	// message is still there to sweep, and the due delivery to lease.
	res, err := f.s.Sweep(f.ctx, store.SweepParams{Now: f.now, Limit: 10})
	require.NoError(f.t, err)
	require.Equal(f.t, 1, res.Messages, "the expired message was left for this sweep")
	if _, ok := f.s.(store.Subscriber); ok {
		leased := f.leaseAll()
		require.Contains(f.t, deliveryIDs(leased), due.ID, "the due delivery was not leased")
	}
}
