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
	calls := f.calls(callArgs{
		ctx: done, q: q, fresh: fresh, idle: other,
		claim: c, held: posted[0], free: posted[3], read: posted,
		sub: sub.ID, due: due.ID, failed: failed.ID,
		pool: "a", flavor: "fast",
	})

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
