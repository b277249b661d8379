package storetest

import (
	"fmt"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of store.Quota: a project's queues (L1) and a queue's
// subscriptions (L2) are bounded at the limit exactly, by every call that
// creates one, atomically with the creation. And of the fair lease (L3).
var limitTests = []subtest{
	{"L1/QueuesPerProjectAtLimit", testQueuesAtLimit},
	{"L1/LazyCreationCounts", testLazyCreationCounts},
	{"L1/DeleteFreesASlot", testDeleteFreesQueueSlot},
	{"L1/DeadLetterMovePastLimit", testDeadLetterMovePastLimit},
	{"L1/ConcurrentCreatesAtLimit", testConcurrentQueueCreates},
	{"L1/CountSurvivesReopen", testQueueCountSurvivesReopen},
	{"L2/SubscriptionsPerQueueAtLimit", testSubscriptionsAtLimit},
	{"L2/ExpiredCountUntilSwept", testExpiredSubscriptionsCount},
	{"L2/ConcurrentSubscribesAtLimit", testConcurrentSubscribes},
	{"L3/FairLeaseAcrossProjects", testFairLease},
}

// quota2 allows two queues per project and two subscriptions per queue.
var quota2 = store.Quota{QueuesPerProject: 2, SubscriptionsPerQueue: 2}

func (f *fixture) createIn(q store.QueueRef, quota store.Quota) (bool, error) {
	return f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Quota: quota, Now: f.now})
}

func (f *fixture) postIn(q store.QueueRef, quota store.Quota, body string) ([]store.ID, error) {
	return f.s.PostMessages(f.ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte(body)}}, Quota: quota, Now: f.now})
}

func (f *fixture) subscribeIn(q store.QueueRef, who string, quota store.Quota) (store.Subscription, bool, error) {
	return f.subscriber().CreateSubscription(f.ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: who, TTL: subTTL, Confirmed: true, Quota: quota, Now: f.now})
}

// requireTooMany checks a refusal by the quota: ErrTooMany, which is not
// bad input.
func requireTooMany(f *fixture, err error, what string) {
	f.t.Helper()
	require.ErrorIs(f.t, err, store.ErrTooMany, what)
	require.NotErrorIs(f.t, err, store.ErrInvalid, "%s: a limit is not bad input", what)
}

// requireOneWon checks a race for a quota's last slot: one racer won, the
// others were refused by the quota.
func requireOneWon(f *fixture, errs []error) {
	f.t.Helper()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireTooMany(f, err, fmt.Sprintf("racer %d", i))
	}
	require.Equal(f.t, 1, won, "exactly one racer takes the last slot")
}

func testQueuesAtLimit(f *fixture) {
	for _, name := range []string{"a", "b"} {
		created, err := f.createIn(ref(name), quota2)
		require.NoError(f.t, err, "queue %s of 2", name)
		require.True(f.t, created)
	}
	_, err := f.createIn(ref("c"), quota2)
	requireTooMany(f, err, "third queue of 2")
	require.ErrorContains(f.t, err, "the project has 2 queues, the limit")
	f.requireNoQueue(ref("c"))

	created, err := f.createIn(ref("a"), quota2)
	require.NoError(f.t, err, "an existing queue is found, not created")
	require.False(f.t, created)
	_, err = f.postIn(ref("b"), quota2, "x")
	require.NoError(f.t, err, "posting to an existing queue at the limit")

	other := store.QueueRef{Project: "other", Name: "c"}
	created, err = f.createIn(other, quota2)
	require.NoError(f.t, err, "another project has its own count")
	require.True(f.t, created)
	created, err = f.createIn(ref("c"), store.Quota{})
	require.NoError(f.t, err, "a zero quota bounds nothing")
	require.True(f.t, created)
	require.Equal(f.t, []string{"a", "b", "c"}, f.queueNames("p"))
}

// testLazyCreationCounts: every call that creates a queue (Q2) checks the
// limit and, refused, stores nothing.
func testLazyCreationCounts(f *fixture) {
	f.create(ref("a"), "")
	one := store.Quota{QueuesPerProject: 1}
	_, err := f.postIn(ref("b"), one, "x")
	requireTooMany(f, err, "post to a new queue")
	f.requireNoQueue(ref("b"))
	if sub, ok := f.s.(store.Subscriber); ok {
		_, _, err := sub.CreateSubscription(f.ctx, store.CreateSubscriptionParams{Queue: ref("b"), Subscriber: "http://x", TTL: subTTL, Quota: one, Now: f.now})
		requireTooMany(f, err, "subscription to a new queue")
		f.requireNoQueue(ref("b"))
		require.False(f.t, f.hasSubs())
	}
	if t, ok := f.s.(store.Transactor); ok {
		_, err := t.Transact(f.ctx, store.TxParams{Ops: []store.TxOp{
			{Queue: ref("a"), Post: []store.Draft{{Body: []byte("in a")}}},
			{Queue: ref("b"), Post: []store.Draft{{Body: []byte("in b")}}},
		}, Quota: one, Now: f.now})
		requireTooMany(f, err, "transaction posting to a new queue")
		f.requireNoQueue(ref("b"))
		require.Empty(f.t, f.visible(ref("a")), "the transaction failed whole")

		two := store.Quota{QueuesPerProject: 2}
		_, err = t.Transact(f.ctx, store.TxParams{Ops: []store.TxOp{
			{Queue: ref("b"), Post: []store.Draft{{Body: []byte("in b")}}},
			{Queue: ref("c"), Post: []store.Draft{{Body: []byte("in c")}}},
		}, Quota: two, Now: f.now})
		requireTooMany(f, err, "transaction making two queues where one is left")
		f.requireNoQueue(ref("b"))
		f.requireNoQueue(ref("c"))
	}
	require.Equal(f.t, []string{"a"}, f.queueNames("p"))
}

func (f *fixture) hasSubs() bool {
	f.t.Helper()
	ok, err := f.subscriber().HasSubscriptions(f.ctx, f.now)
	require.NoError(f.t, err)
	return ok
}

func testDeleteFreesQueueSlot(f *fixture) {
	f.create(ref("a"), "")
	f.create(ref("b"), "")
	_, err := f.postIn(ref("c"), quota2, "x")
	requireTooMany(f, err, "third queue of 2")
	require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: ref("a")}))
	require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: ref("a")}), "deleting a missing queue frees nothing more")
	_, err = f.postIn(ref("c"), quota2, "x")
	require.NoError(f.t, err, "a deleted queue frees its slot")
	_, err = f.createIn(ref("d"), quota2)
	requireTooMany(f, err, "the slot is taken again")
}

// testDeadLetterMovePastLimit: a claim's move to a missing dead-letter
// queue (C6) creates it past the limit rather than lose or strand the
// message; the project is then over the limit.
func testDeadLetterMovePastLimit(f *fixture) {
	q, dlq := ref("q"), ref("dlq")
	one := store.Quota{QueuesPerProject: 1}
	created, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(`{"_max_claim_count":1,"_dead_letter_queue":"dlq"}`), Quota: one, Now: f.now})
	require.NoError(f.t, err)
	require.True(f.t, created)
	posted, err := f.postIn(q, one, "body")
	require.NoError(f.t, err)
	c := f.claim(q, 1)
	f.release(q, c.Claim.ID, 0)
	res := f.claim(q, 1)
	require.Equal(f.t, 1, res.DeadLettered, "the move happens at the limit")
	moved := f.list(store.ListMessagesParams{Queue: dlq, Limit: pageSize})
	require.Len(f.t, moved, 1)
	require.Equal(f.t, "body", string(moved[0].Body))
	require.Empty(f.t, f.get(q, posted...))
	_, err = f.createIn(ref("x"), store.Quota{QueuesPerProject: 2})
	requireTooMany(f, err, "the dead-letter queue counts")
}

// testConcurrentQueueCreates: callers racing for the last slot, through
// every creating call, let exactly one queue in.
func testConcurrentQueueCreates(f *fixture) {
	const limit, racers = 4, 12
	quota := store.Quota{QueuesPerProject: limit}
	for i := range limit - 1 {
		f.create(ref(fmt.Sprintf("pre%d", i)), "")
	}
	tx, _ := f.s.(store.Transactor)
	sub, _ := f.s.(store.Subscriber)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			q := ref(fmt.Sprintf("race%02d", i))
			switch {
			case i%4 == 0:
				_, errs[i] = f.createIn(q, quota)
			case i%4 == 1 && tx != nil:
				_, errs[i] = tx.Transact(f.ctx, store.TxParams{Ops: []store.TxOp{{Queue: q, Post: []store.Draft{{Body: []byte("x")}}}}, Quota: quota, Now: f.now})
			case i%4 == 2 && sub != nil:
				_, _, errs[i] = sub.CreateSubscription(f.ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: "http://x", TTL: subTTL, Quota: quota, Now: f.now})
			default:
				_, errs[i] = f.postIn(q, quota, "x")
			}
		})
	}
	wg.Wait()
	requireOneWon(f, errs)
	require.Len(f.t, f.queueNames("p"), limit)
}

func testQueueCountSurvivesReopen(f *fixture) {
	f.requireReopen()
	f.create(ref("a"), "")
	f.create(ref("b"), "")
	f.create(store.QueueRef{Project: "", Name: "a"}, "") // the default project's key
	f.reopen()
	_, err := f.createIn(ref("c"), quota2)
	requireTooMany(f, err, "after reopen")
	_, err = f.createIn(store.QueueRef{Project: "", Name: "b"}, quota2)
	require.NoError(f.t, err, "the default project has one of two")
	_, err = f.createIn(store.QueueRef{Project: "", Name: "c"}, quota2)
	requireTooMany(f, err, "the default project after reopen")
	require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: ref("a")}))
	f.reopen()
	_, err = f.createIn(ref("c"), quota2)
	require.NoError(f.t, err, "the freed slot survives reopen")
	_, err = f.createIn(ref("d"), quota2)
	requireTooMany(f, err, "full again")
}

func testSubscriptionsAtLimit(f *fixture) {
	f.subscriber()
	q := ref("q")
	first, created, err := f.subscribeIn(q, "http://one", quota2)
	require.NoError(f.t, err)
	require.True(f.t, created)
	_, _, err = f.subscribeIn(q, "http://two", quota2)
	require.NoError(f.t, err, "second of 2")
	_, _, err = f.subscribeIn(q, "http://three", quota2)
	requireTooMany(f, err, "third subscription of 2")
	require.ErrorContains(f.t, err, "has 2 subscriptions")
	require.Len(f.t, f.subs(q), 2)

	again, created, err := f.subscribeIn(q, "http://one", quota2)
	require.NoError(f.t, err, "the same subscriber again is not a new subscription")
	require.False(f.t, created)
	require.Equal(f.t, first.ID, again.ID)

	_, _, err = f.subscribeIn(ref("other"), "http://three", quota2)
	require.NoError(f.t, err, "another queue has its own count")

	require.NoError(f.t, f.subscriber().DeleteSubscription(f.ctx, store.DeleteSubscriptionParams{Queue: q, ID: first.ID}))
	_, created, err = f.subscribeIn(q, "http://three", quota2)
	require.NoError(f.t, err, "a deleted subscription frees its slot")
	require.True(f.t, created)
	_, _, err = f.subscribeIn(q, "http://four", quota2)
	requireTooMany(f, err, "full again")

	require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: q}))
	_, _, err = f.subscribeIn(q, "http://four", quota2)
	require.NoError(f.t, err, "a deleted queue takes its subscriptions' slots with it")
}

// testExpiredSubscriptionsCount: what the store keeps counts, so an
// expired subscription holds its slot until the sweep removes it (B1).
func testExpiredSubscriptionsCount(f *fixture) {
	f.subscriber()
	q := ref("q")
	for _, who := range []string{"http://one", "http://two"} {
		_, _, err := f.subscriber().CreateSubscription(f.ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: who, TTL: time.Minute, Confirmed: true, Quota: quota2, Now: f.now})
		require.NoError(f.t, err)
	}
	f.advance(time.Minute)
	require.Empty(f.t, f.subs(q), "expired")
	_, _, err := f.subscribeIn(q, "http://three", quota2)
	requireTooMany(f, err, "expired but not swept")
	f.sweep(1000)
	_, _, err = f.subscribeIn(q, "http://three", quota2)
	require.NoError(f.t, err, "swept")
	_, _, err = f.subscribeIn(q, "http://one", quota2)
	require.NoError(f.t, err, "swept")
	_, _, err = f.subscribeIn(q, "http://four", quota2)
	requireTooMany(f, err, "full again")
}

func testConcurrentSubscribes(f *fixture) {
	f.subscriber()
	const limit, racers = 3, 12
	quota := store.Quota{SubscriptionsPerQueue: limit}
	q := ref("q")
	for i := range limit - 1 {
		f.subscribe(q, fmt.Sprintf("http://pre%d", i))
	}
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, _, errs[i] = f.subscribeIn(q, fmt.Sprintf("http://race%02d", i), quota)
		})
	}
	wg.Wait()
	requireOneWon(f, errs)
	require.Len(f.t, f.subs(q), limit)
}

func (f *fixture) leaseFair(limit, perProject int, from string) []store.Delivery {
	f.t.Helper()
	out, _, err := f.subscriber().LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: limit, Lease: time.Minute, PerProject: perProject, From: from, Now: f.now})
	require.NoError(f.t, err, "LeaseDeliveries")
	require.LessOrEqual(f.t, len(out), limit)
	return out
}

func projectsOf(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Queue.Project
	}
	return out
}

// testFairLease: one project's backlog of older deliveries does not hide
// another project's (L3): a lease with PerProject takes each project's
// oldest in turn, from From; without it, oldest first across projects.
func testFairLease(f *fixture) {
	f.subscriber()
	a, b, c := store.QueueRef{Project: "a", Name: "q"}, store.QueueRef{Project: "b", Name: "q"}, store.QueueRef{Project: "c", Name: "q"}
	for _, q := range []store.QueueRef{a, b, c} {
		f.subscribe(q, "http://hook/"+q.Project)
	}
	f.post(a, bodies(40)...) // the backlog, oldest
	f.advance(time.Second)
	bIDs := f.post(b, "b1", "b2")
	f.advance(time.Second)
	f.post(c, "c1")

	// The old order: a's backlog first.
	unfair, _, err := f.subscriber().LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: 5, Lease: time.Nanosecond, Now: f.now})
	require.NoError(f.t, err)
	require.Equal(f.t, []string{"a", "a", "a", "a", "a"}, projectsOf(unfair))
	f.advance(time.Nanosecond) // their short lease is over: due again

	got := f.leaseFair(10, 3, "")
	require.Equal(f.t, []string{"a", "a", "a", "b", "b", "c"}, projectsOf(got))
	require.Equal(f.t, bIDs, []store.ID{got[3].Message, got[4].Message}, "oldest first within a project")

	got = f.leaseFair(4, 2, "b") // b and c have nothing due now: a's turn
	require.Equal(f.t, []string{"a", "a"}, projectsOf(got))

	f.post(c, "c2")
	f.post(b, "b3")
	got = f.leaseFair(2, 1, "b")
	require.Equal(f.t, []string{"b", "c"}, projectsOf(got), "from b, wrapping round")
	got = f.leaseFair(10, 5, "d")
	require.Equal(f.t, []string{"a", "a", "a", "a", "a"}, projectsOf(got), "from after the last project: the first")

	_, _, err = f.subscriber().LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: 1, Lease: time.Minute, PerProject: -1, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrInvalidLimit)

	// A retry keeps both indexes: the drain below meets it once.
	d := got[0]
	require.NoError(f.t, f.subscriber().SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: d.Queue, ID: d.ID, Outcome: store.Retry, RetryAt: f.now, Now: f.now}))
	f.advance(time.Hour)
	total := 0
	for range 100 {
		ds := f.leaseFair(7, 2, "")
		if len(ds) == 0 {
			break
		}
		total += len(ds)
		for _, d := range ds {
			require.NoError(f.t, f.subscriber().SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: d.Queue, ID: d.ID, Outcome: store.Delivered, Now: f.now}))
		}
	}
	require.Equal(f.t, 40+3+2, total, "every delivery once, none left")
	require.Empty(f.t, f.leaseAll())
}
