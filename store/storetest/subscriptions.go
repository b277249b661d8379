package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of store.Subscriber: subscriptions as data (S1) and the
// outbox of their deliveries (S2). A store that does not implement it
// skips them.
var subscriptionTests = []subtest{
	{"S1/CreateGetListDelete", testSubCRUD},
	{"S1/DuplicateReturnsExisting", testSubDuplicate},
	{"S1/CreateCreatesQueue", testSubCreatesQueue},
	{"S1/ListPagesWithMarker", testSubListPages},
	{"S1/UpdateChangesWhatIsSet", testSubUpdate},
	{"S1/UpdateToTakenSubscriberConflicts", testSubUpdateConflict},
	{"S1/HasSubscriptions", testSubHas},
	{"S1/BadInputChangesNothing", testSubBadInput},
	{"B4/ExpiredSubscriptionInvisible", testSubExpiredInvisible},
	{"B1/SweepRemovesExpiredSubscriptions", testSubSweep},
	{"Q6/DeleteQueueRemovesSubscriptions", testSubDeleteQueue},
	{"Q6/PurgeKeepsSubscriptions", testSubPurgeKeeps},
	{"S2/PostRecordsDeliveryPerSubscription", testSubPostRecords},
	{"S2/DedupRepeatRecordsNothing", testSubDedup},
	{"S2/ConfirmedOnly", testSubConfirmedOnly},
	{"S2/TransactPostsRecordDeliveries", testSubTransact},
	{"S2/DeleteSubscriptionRemovesDeliveries", testSubDeleteRemovesDeliveries},
	{"S2/LeaseSettleCycle", testSubLeaseSettle},
	{"S2/FailedListAndRetry", testSubFailed},
	{"S2/SettleMissingIsNoError", testSubSettleMissing},
	{"S2/SurvivesReopen", testSubReopen},
}

// subscriber returns the store as a store.Subscriber, or skips the
// subtest. It asserts afresh each time, since Reopen replaces the store.
func (f *fixture) subscriber() store.Subscriber {
	f.t.Helper()
	sb, ok := f.s.(store.Subscriber)
	if !ok {
		f.t.Skip("store does not implement store.Subscriber")
	}
	return sb
}

// subTTL is the lifetime of subscriptions that subtests do not expire.
const subTTL = 24 * time.Hour

// subscribe makes a new confirmed subscription of who to q.
func (f *fixture) subscribe(q store.QueueRef, who string) store.Subscription {
	f.t.Helper()
	s, created := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: who, TTL: subTTL, Confirmed: true})
	require.True(f.t, created, "CreateSubscription %q on %v: it existed", who, q)
	return s
}

// subscribeWith creates a subscription at the fixture's Now and checks
// what it returns against p when it made one.
func (f *fixture) subscribeWith(p store.CreateSubscriptionParams) (store.Subscription, bool) {
	f.t.Helper()
	p.Now = f.now
	s, created, err := f.subscriber().CreateSubscription(f.ctx, p)
	require.NoError(f.t, err, "CreateSubscription %q on %v", p.Subscriber, p.Queue)
	require.False(f.t, s.ID.IsZero(), "a subscription has an ID")
	if created {
		require.Equal(f.t, p.Queue, s.Queue)
		require.Equal(f.t, p.Subscriber, s.Subscriber)
		require.Equal(f.t, p.TTL, s.TTL)
		require.Equal(f.t, p.Confirmed, s.Confirmed)
		requireTime(f.t, f.now, s.Created, "subscription Created")
		requireTime(f.t, f.now.Add(p.TTL), s.Expires, "subscription Expires")
		want := string(p.Options)
		if want == "" {
			want = "{}"
		}
		require.JSONEq(f.t, want, string(s.Options))
	}
	return s, created
}

// getSub returns a subscription and the error.
func (f *fixture) getSub(q store.QueueRef, id store.ID) (store.Subscription, error) {
	return f.subscriber().GetSubscription(f.ctx, store.GetSubscriptionParams{Queue: q, ID: id, Now: f.now})
}

// subs lists every live subscription of q.
func (f *fixture) subs(q store.QueueRef) []store.Subscription {
	f.t.Helper()
	out, err := f.subscriber().ListSubscriptions(f.ctx, store.ListSubscriptionsParams{Queue: q, Limit: pageSize, Now: f.now})
	require.NoError(f.t, err, "ListSubscriptions %v", q)
	for i := 1; i < len(out); i++ {
		require.Negative(f.t, out[i-1].ID.Compare(out[i].ID), "ListSubscriptions is in ID order")
	}
	return out
}

func subIDs(subs []store.Subscription) []store.ID {
	out := make([]store.ID, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return out
}

// update updates a subscription at the fixture's Now.
func (f *fixture) update(p store.UpdateSubscriptionParams) (store.Subscription, error) {
	p.Now = f.now
	return f.subscriber().UpdateSubscription(f.ctx, p)
}

// lease leases up to limit due deliveries for d.
func (f *fixture) lease(limit int, d time.Duration) ([]store.Delivery, time.Time) {
	f.t.Helper()
	out, next, err := f.subscriber().LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: limit, Lease: d, Now: f.now})
	require.NoError(f.t, err, "LeaseDeliveries")
	require.LessOrEqual(f.t, len(out), limit, "LeaseDeliveries took more than Limit")
	for _, x := range out {
		requireTime(f.t, f.now.Add(d), x.NextAttempt, "a leased delivery is due when its lease ends")
		require.False(f.t, x.Failed, "a leased delivery is pending")
	}
	return out, next
}

// leaseAll leases every due delivery for a minute.
func (f *fixture) leaseAll() []store.Delivery {
	f.t.Helper()
	out, _ := f.lease(pageSize, time.Minute)
	return out
}

// settle settles a delivery at the fixture's Now.
func (f *fixture) settle(d store.Delivery, o store.Outcome, retryAt time.Time, why string) {
	f.t.Helper()
	err := f.subscriber().SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: d.Queue, ID: d.ID, Outcome: o, RetryAt: retryAt, Error: why, Now: f.now})
	require.NoError(f.t, err, "SettleDelivery %v", d.ID)
}

// failed lists the failed deliveries of q (of one subscription if sub is
// set).
func (f *fixture) failed(q store.QueueRef, sub store.ID) []store.Delivery {
	f.t.Helper()
	out, err := f.subscriber().ListFailedDeliveries(f.ctx, store.ListFailedDeliveriesParams{Queue: q, Subscription: sub, Limit: pageSize})
	require.NoError(f.t, err, "ListFailedDeliveries %v", q)
	for _, d := range out {
		require.True(f.t, d.Failed, "ListFailedDeliveries lists failed ones")
	}
	return out
}

func deliveryIDs(ds []store.Delivery) []store.ID {
	out := make([]store.ID, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// has reports HasSubscriptions.
func (f *fixture) has() bool {
	f.t.Helper()
	ok, err := f.subscriber().HasSubscriptions(f.ctx, f.now)
	require.NoError(f.t, err, "HasSubscriptions")
	return ok
}

func testSubCRUD(f *fixture) {
	f.subscriber()
	q := ref("q")
	a := f.subscribe(q, "http://a.example/hook")
	b, _ := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "mailto:b@example.com", TTL: time.Hour, Options: raw(`{"from":"x"}`)})
	require.Negative(f.t, a.ID.Compare(b.ID), "IDs increase")

	got, err := f.getSub(q, b.ID)
	require.NoError(f.t, err)
	require.Equal(f.t, b, got)
	_, err = f.getSub(ref("other"), b.ID)
	require.ErrorIs(f.t, err, store.ErrNotFound, "a subscription is found through its own queue only")
	require.Equal(f.t, []store.Subscription{a, b}, f.subs(q))
	require.Empty(f.t, f.subs(ref("missing")), "a missing queue lists nothing")

	del := func(q store.QueueRef, id store.ID) {
		require.NoError(f.t, f.subscriber().DeleteSubscription(f.ctx, store.DeleteSubscriptionParams{Queue: q, ID: id}))
	}
	del(ref("other"), a.ID) // another queue's: nothing
	require.Len(f.t, f.subs(q), 2)
	del(q, a.ID)
	_, err = f.getSub(q, a.ID)
	require.ErrorIs(f.t, err, store.ErrNotFound)
	require.Equal(f.t, []store.Subscription{b}, f.subs(q))
	del(q, a.ID) // a missing one is not an error
	del(ref("missing"), a.ID)
}

func testSubDuplicate(f *fixture) {
	f.subscriber()
	q := ref("q")
	a := f.subscribe(q, "http://a")
	f.advance(time.Minute)
	again, created := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Hour, Options: raw(`{"x":1}`)})
	require.False(f.t, created, "a duplicate (project, queue, subscriber) returns the existing one")
	require.Equal(f.t, a, again, "unchanged")
	// The same subscriber on another queue or project is another one.
	_, created = f.subscribeWith(store.CreateSubscriptionParams{Queue: ref("q2"), Subscriber: "http://a", TTL: time.Hour})
	require.True(f.t, created)
	_, created = f.subscribeWith(store.CreateSubscriptionParams{Queue: store.QueueRef{Project: "other", Name: "q"}, Subscriber: "http://a", TTL: time.Hour})
	require.True(f.t, created)
	require.Len(f.t, f.subs(q), 1)
}

func testSubCreatesQueue(f *fixture) {
	f.subscriber()
	q := ref("lazy")
	f.requireNoQueue(q)
	f.subscribe(q, "http://a")
	f.queue(q)
	require.Equal(f.t, []string{"lazy"}, f.queueNames("p"))
	// An existing queue keeps its metadata.
	q2 := ref("meta")
	f.create(q2, `{"user":1}`)
	f.subscribe(q2, "http://a")
	requireMeta(f.t, `{"user":1}`, f.queue(q2).Metadata)
}

func testSubListPages(f *fixture) {
	f.subscriber()
	q := ref("q")
	var all []store.ID
	for _, who := range []string{"e", "d", "c", "b", "a"} {
		all = append(all, f.subscribe(q, who).ID)
	}
	var got []store.ID
	var marker store.ID
	for {
		page, err := f.subscriber().ListSubscriptions(f.ctx, store.ListSubscriptionsParams{Queue: q, Marker: marker, Limit: 2, Now: f.now})
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(page), 2)
		if len(page) == 0 {
			break
		}
		got = append(got, subIDs(page)...)
		marker = page[len(page)-1].ID
	}
	require.Equal(f.t, all, got, "pages in ID order, marker exclusive, none skipped or repeated")
}

func testSubUpdate(f *fixture) {
	f.subscriber()
	q := ref("q")
	s, _ := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Hour, Options: raw(`{"k":"v"}`)})
	f.advance(10 * time.Minute)

	ttl, who, yes := 2*time.Hour, "http://b", true
	got, err := f.update(store.UpdateSubscriptionParams{Queue: q, ID: s.ID, TTL: &ttl})
	require.NoError(f.t, err)
	want := s
	want.TTL, want.Expires = ttl, f.now.Add(ttl)
	require.Equal(f.t, want.TTL, got.TTL)
	requireTime(f.t, want.Expires, got.Expires, "a new TTL counts from Now")
	requireTime(f.t, s.Created, got.Created, "Created stays")
	require.JSONEq(f.t, `{"k":"v"}`, string(got.Options), "options left alone")
	require.False(f.t, got.Confirmed)

	got, err = f.update(store.UpdateSubscriptionParams{Queue: q, ID: s.ID, Subscriber: &who, Options: raw(`{"n":2}`), Confirmed: &yes})
	require.NoError(f.t, err)
	require.Equal(f.t, who, got.Subscriber)
	require.JSONEq(f.t, `{"n":2}`, string(got.Options))
	require.True(f.t, got.Confirmed)
	requireTime(f.t, want.Expires, got.Expires, "TTL left alone")
	read, err := f.getSub(q, s.ID)
	require.NoError(f.t, err)
	require.Equal(f.t, got, read)

	// The old subscriber is free again; the new one is taken.
	_, created := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Hour})
	require.True(f.t, created)
	dup, created := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: who, TTL: time.Hour})
	require.False(f.t, created)
	require.Equal(f.t, s.ID, dup.ID)

	_, err = f.update(store.UpdateSubscriptionParams{Queue: q, ID: fakeID(9), Confirmed: &yes})
	require.ErrorIs(f.t, err, store.ErrNotFound)
	_, err = f.update(store.UpdateSubscriptionParams{Queue: ref("other"), ID: s.ID, Confirmed: &yes})
	require.ErrorIs(f.t, err, store.ErrNotFound, "a subscription is updated through its own queue only")
}

func testSubUpdateConflict(f *fixture) {
	f.subscriber()
	q := ref("q")
	a := f.subscribe(q, "http://a")
	b := f.subscribe(q, "http://b")
	taken, same := "http://a", "http://b"
	ttl := time.Minute
	_, err := f.update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Subscriber: &taken, TTL: &ttl})
	require.ErrorIs(f.t, err, store.ErrConflict)
	require.Equal(f.t, []store.Subscription{a, b}, f.subs(q), "a conflict changes nothing")
	got, err := f.update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Subscriber: &same})
	require.NoError(f.t, err, "its own subscriber is no conflict")
	require.Equal(f.t, b, got)
	// A subscriber of another queue is no conflict either.
	f.subscribe(ref("q2"), "http://c")
	other := "http://c"
	_, err = f.update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Subscriber: &other})
	require.NoError(f.t, err)
}

func testSubHas(f *fixture) {
	f.subscriber()
	require.False(f.t, f.has(), "an empty store")
	f.post(ref("q"), "x")
	require.False(f.t, f.has(), "a store that never had a subscription")
	s := f.subscribe(ref("q"), "http://a")
	require.True(f.t, f.has())
	require.NoError(f.t, f.subscriber().DeleteSubscription(f.ctx, store.DeleteSubscriptionParams{Queue: ref("q"), ID: s.ID}))
	require.False(f.t, f.has(), "the last one deleted")
}

// subState is what a caller can read of the outbox without changing it.
type subState struct {
	Queues []string
	Subs   []store.Subscription
	Failed []store.Delivery
	Has    bool
}

func (f *fixture) subState(q store.QueueRef) subState {
	return subState{Queues: f.queueNames("p"), Subs: f.subs(q), Failed: f.failed(q, store.ID{}), Has: f.has()}
}

func testSubBadInput(f *fixture) {
	sb := f.subscriber()
	q, fresh := ref("q"), ref("fresh")
	a := f.subscribe(q, "http://a")
	b := f.subscribe(q, "http://b")
	f.post(q, "m0", "m1")
	ds := f.leaseAll()
	require.Len(f.t, ds, 4)
	f.settle(ds[0], store.Failed, time.Time{}, "gone")
	f.now = f.now.Add(time.Minute) // the other three are due again
	before := f.subState(q)

	huge := time.Duration(1<<63 - 1)
	zero, neg, empty, long, taken := time.Duration(0), -time.Second, "", string(make([]byte, store.MaxSubscriberLen+1)), "http://a"
	create := func(p store.CreateSubscriptionParams) func() error {
		return func() error {
			p.Now = f.now
			_, _, err := sb.CreateSubscription(f.ctx, p)
			return err
		}
	}
	update := func(p store.UpdateSubscriptionParams) func() error {
		return func() error { _, err := f.update(p); return err }
	}
	good := store.CreateSubscriptionParams{Queue: fresh, Subscriber: "http://z", TTL: time.Hour}
	with := func(change func(p *store.CreateSubscriptionParams)) store.CreateSubscriptionParams {
		p := good
		change(&p)
		return p
	}
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"create bad queue", create(with(func(p *store.CreateSubscriptionParams) { p.Queue = ref("a/b") })), store.ErrInvalidName},
		{"create empty subscriber", create(with(func(p *store.CreateSubscriptionParams) { p.Subscriber = "" })), store.ErrInvalid},
		{"create long subscriber", create(with(func(p *store.CreateSubscriptionParams) { p.Subscriber = long })), store.ErrInvalid},
		{"create zero ttl", create(with(func(p *store.CreateSubscriptionParams) { p.TTL = 0 })), store.ErrInvalidTTL},
		{"create negative ttl", create(with(func(p *store.CreateSubscriptionParams) { p.TTL = neg })), store.ErrInvalidTTL},
		{"create overflowing ttl", create(with(func(p *store.CreateSubscriptionParams) { p.TTL = huge })), store.ErrInvalidTTL},
		{"create array options", create(with(func(p *store.CreateSubscriptionParams) { p.Options = raw(`[1]`) })), store.ErrInvalidMetadata},
		{"create null options", create(with(func(p *store.CreateSubscriptionParams) { p.Options = raw(`null`) })), store.ErrInvalidMetadata},
		{"create broken options", create(with(func(p *store.CreateSubscriptionParams) { p.Options = raw(`{"a":`) })), store.ErrInvalidMetadata},
		{"update zero ttl", update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, TTL: &zero}), store.ErrInvalidTTL},
		{"update overflowing ttl", update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, TTL: &huge}), store.ErrInvalidTTL},
		{"update empty subscriber", update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Subscriber: &empty}), store.ErrInvalid},
		{"update bad options", update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Options: raw(`"x"`)}), store.ErrInvalidMetadata},
		{"update taken subscriber", update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Subscriber: &taken, TTL: &zero}), store.ErrInvalidTTL},
		{"update conflict", update(store.UpdateSubscriptionParams{Queue: q, ID: b.ID, Subscriber: &taken, Options: raw(`{"new":1}`)}), store.ErrConflict},
		{"update bad queue", update(store.UpdateSubscriptionParams{Queue: ref(""), ID: a.ID}), store.ErrInvalidName},
		{"list zero limit", func() error {
			_, err := sb.ListSubscriptions(f.ctx, store.ListSubscriptionsParams{Queue: q, Now: f.now})
			return err
		}, store.ErrInvalidLimit},
		{"lease zero limit", func() error {
			_, _, err := sb.LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Lease: time.Minute, Now: f.now})
			return err
		}, store.ErrInvalidLimit},
		{"lease zero lease", func() error {
			_, _, err := sb.LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: 10, Now: f.now})
			return err
		}, store.ErrInvalidTTL},
		{"lease overflowing lease", func() error {
			_, _, err := sb.LeaseDeliveries(f.ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: huge, Now: f.now})
			return err
		}, store.ErrInvalidTTL},
		{"settle no outcome", func() error {
			return sb.SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: q, ID: ds[1].ID, Now: f.now})
		}, store.ErrInvalid},
		{"settle unknown outcome", func() error {
			return sb.SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: q, ID: ds[1].ID, Outcome: store.Failed + 1, Now: f.now})
		}, store.ErrInvalid},
		{"list failed zero limit", func() error {
			_, err := sb.ListFailedDeliveries(f.ctx, store.ListFailedDeliveriesParams{Queue: q})
			return err
		}, store.ErrInvalidLimit},
	}
	for _, c := range cases {
		var err error
		require.NotPanics(f.t, func() { err = c.call() }, c.name)
		require.ErrorIs(f.t, err, c.want, c.name)
		require.Equal(f.t, before, f.subState(q), "%s changed something", c.name)
	}
	f.requireNoQueue(fresh)
	require.ElementsMatch(f.t, deliveryIDs(ds[1:]), deliveryIDs(f.leaseAll()), "the pending deliveries are as they were")
}

func testSubExpiredInvisible(f *fixture) {
	sb := f.subscriber()
	q := ref("q")
	s, _ := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Minute, Confirmed: true})
	f.post(q, "before")
	failed := f.leaseAll()
	require.Len(f.t, failed, 1)
	f.settle(failed[0], store.Failed, time.Time{}, "no")
	f.post(q, "pending")
	f.now = s.Expires.Add(-time.Nanosecond)
	_, err := f.getSub(q, s.ID)
	require.NoError(f.t, err, "live until its expiry")

	f.now = s.Expires
	_, err = f.getSub(q, s.ID)
	require.ErrorIs(f.t, err, store.ErrNotFound, "expired at Expires, before any sweep")
	require.Empty(f.t, f.subs(q))
	yes := true
	_, err = f.update(store.UpdateSubscriptionParams{Queue: q, ID: s.ID, Confirmed: &yes})
	require.ErrorIs(f.t, err, store.ErrNotFound)
	ds, next := f.lease(10, time.Minute)
	require.Empty(f.t, ds, "an expired subscription's deliveries are not handed out")
	require.True(f.t, next.IsZero() || next.After(f.now), "nothing of it is due: next %v", next)
	f.post(q, "after")
	require.Empty(f.t, f.leaseAll(), "an expired subscription gets no deliveries")
	require.Empty(f.t, f.failed(q, store.ID{}), "nor lists failed ones")
	n, err := sb.RetryFailedDeliveries(f.ctx, store.RetryFailedDeliveriesParams{Queue: q, IDs: deliveryIDs(failed), Now: f.now})
	require.NoError(f.t, err)
	require.Zero(f.t, n, "nor revives them")

	again := f.subscribe(q, "http://a")
	require.NotEqual(f.t, s.ID, again.ID, "the subscriber may subscribe again: a new subscription")
	require.Equal(f.t, []store.Subscription{again}, f.subs(q))
	f.post(q, "new")
	ds = f.leaseAll()
	require.Len(f.t, ds, 1)
	require.Equal(f.t, again.ID, ds[0].Subscription)
}

func testSubSweep(f *fixture) {
	f.subscriber()
	q := ref("q")
	s, _ := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Minute})
	keep := f.subscribe(q, "http://b")
	f.post(q, "m0", "m1", "m2")
	ds := f.leaseAll()
	require.Len(f.t, ds, 6)
	for _, d := range ds {
		if d.Subscription == s.ID {
			f.settle(d, store.Failed, time.Time{}, "no") // one of each kind: failed and pending
			break
		}
	}
	f.advance(time.Minute - time.Nanosecond)
	require.Zero(f.t, f.sweep(100).Subscriptions, "not expired yet")
	f.advance(time.Nanosecond)

	// Four items go: the subscription and its three deliveries, at most
	// two per call.
	total, calls := 0, 0
	for {
		res := f.sweep(2)
		total += res.Subscriptions
		calls++
		if !res.More {
			break
		}
		require.Less(f.t, calls, 10, "Sweep keeps reporting More")
	}
	require.Equal(f.t, 1, total, "the expired subscription is swept once")
	require.GreaterOrEqual(f.t, calls, 2, "four items at two per call: a sweep stays within its limit")
	require.Equal(f.t, store.SweepResult{}, f.sweep(100))
	require.Equal(f.t, []store.Subscription{keep}, f.subs(q))
	f.advance(time.Minute)
	left := f.leaseAll()
	require.Len(f.t, left, 3, "the live subscription keeps its deliveries")
	for _, d := range left {
		require.Equal(f.t, keep.ID, d.Subscription)
	}
}

func testSubDeleteQueue(f *fixture) {
	f.subscriber()
	q, other := ref("q"), ref("other")
	a := f.subscribe(q, "http://a")
	f.subscribe(other, "http://a")
	f.post(q, "m0", "m1")
	ds := f.leaseAll()
	f.settle(ds[0], store.Failed, time.Time{}, "no")
	f.post(other, "o")
	require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: q}))

	_, err := f.getSub(q, a.ID)
	require.ErrorIs(f.t, err, store.ErrNotFound)
	f.advance(time.Hour)
	left := f.leaseAll()
	require.Len(f.t, left, 1, "the deleted queue's deliveries went with it")
	require.Equal(f.t, other, left[0].Queue)
	// A queue made again under the name starts with none.
	f.post(q, "new")
	require.Empty(f.t, f.subs(q))
	require.Empty(f.t, f.failed(q, store.ID{}))
	f.advance(time.Hour)
	require.Len(f.t, f.leaseAll(), 1)
}

func testSubPurgeKeeps(f *fixture) {
	f.subscriber()
	q := ref("q")
	a := f.subscribe(q, "http://a")
	f.post(q, "m0")
	require.NoError(f.t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: q, Now: f.now}))
	require.Equal(f.t, []store.Subscription{a}, f.subs(q))
	ds := f.leaseAll()
	require.Len(f.t, ds, 1, "the purge leaves pending deliveries: they do not need the message")
	require.Equal(f.t, []byte("m0"), ds[0].Body)
}

func testSubPostRecords(f *fixture) {
	f.subscriber()
	q, other, quiet := ref("q"), ref("other"), ref("quiet")
	a := f.subscribe(q, "http://a")
	b := f.subscribe(q, "mailto:b@example.com")
	o := f.subscribe(other, "http://o")
	f.post(quiet, "nobody listens")
	posted := f.postDrafts(q, store.Draft{Body: []byte("one"), TTL: 10 * time.Minute}, store.Draft{Body: []byte("two")})
	f.postDrafts(other, store.Draft{Body: nil, TTL: time.Minute})

	ds, next := f.lease(pageSize, 30*time.Second)
	require.Len(f.t, ds, 5, "one delivery per message per live subscription of its queue")
	requireTime(f.t, f.now.Add(30*time.Second), next, "next due: the leases' end")
	for i := 1; i < len(ds); i++ {
		require.Negative(f.t, ds[i-1].ID.Compare(ds[i].ID), "equally due deliveries come in ID order")
		require.Negative(f.t, posted[0].Compare(ds[i].ID), "delivery IDs come from the message ID source")
	}
	type copyOf struct {
		Sub        store.ID
		Subscriber string
		Queue      store.QueueRef
		Message    store.ID
		Body       string
		TTL        time.Duration
	}
	var got []copyOf
	for _, d := range ds {
		got = append(got, copyOf{d.Subscription, d.Subscriber, d.Queue, d.Message, string(d.Body), d.TTL})
		require.Zero(f.t, d.Attempts)
		require.Empty(f.t, d.LastError)
		requireTime(f.t, f.now, d.Created, "delivery Created")
	}
	others := f.all(other)
	require.ElementsMatch(f.t, []copyOf{
		{a.ID, a.Subscriber, q, posted[0], "one", 10 * time.Minute},
		{b.ID, b.Subscriber, q, posted[0], "one", 10 * time.Minute},
		{a.ID, a.Subscriber, q, posted[1], "two", store.DefaultMessageTTL},
		{b.ID, b.Subscriber, q, posted[1], "two", store.DefaultMessageTTL},
		{o.ID, o.Subscriber, other, others[0].ID, "", time.Minute},
	}, got)

	// The copy does not depend on the message.
	require.NoError(f.t, f.del(q, store.ID{}, posted...))
	f.advance(30 * time.Second)
	require.Len(f.t, f.leaseAll(), 5, "deliveries outlive their messages")
}

func testSubDedup(f *fixture) {
	f.subscriber()
	q := ref("q")
	f.subscribe(q, "http://a")
	first := f.postDrafts(q, store.Draft{Body: []byte("x"), DedupID: "k"}, store.Draft{Body: []byte("x again"), DedupID: "k"})
	require.Equal(f.t, first[0], first[1])
	f.postDrafts(q, store.Draft{Body: []byte("x later"), DedupID: "k"})
	ds := f.leaseAll()
	require.Len(f.t, ds, 1, "a dedup'd repeat records no delivery (M10)")
	require.Equal(f.t, first[0], ds[0].Message)
}

func testSubConfirmedOnly(f *fixture) {
	f.subscriber()
	q := ref("q")
	yes := f.subscribe(q, "http://yes")
	f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://no", TTL: time.Hour})
	f.postParams(store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("c")}}, ConfirmedOnly: true})
	ds := f.leaseAll()
	require.Len(f.t, ds, 1, "ConfirmedOnly skips unconfirmed subscriptions (S5)")
	require.Equal(f.t, yes.ID, ds[0].Subscription)
	f.post(q, "all")
	require.Len(f.t, f.leaseAll(), 2, "without it every live subscription gets one")
	if t, ok := f.s.(store.Transactor); ok {
		_, err := t.Transact(f.ctx, store.TxParams{Ops: []store.TxOp{postOp(q, "tx")}, ConfirmedOnly: true, Now: f.now})
		require.NoError(f.t, err)
		ds = f.leaseAll()
		require.Len(f.t, ds, 1, "Transact honours ConfirmedOnly")
		require.Equal(f.t, yes.ID, ds[0].Subscription)
	}
}

func testSubTransact(f *fixture) {
	f.subscriber()
	f.transactor()
	in, out := ref("in"), ref("out")
	s := f.subscribe(out, "http://a")
	f.post(in, "job")
	c := f.claim(in, 1)
	res := f.mustTx(delOp(in, c.Claim.ID, c.Messages[0].ID), postOp(out, "r0", "r1"))
	ds := f.leaseAll()
	require.Len(f.t, ds, 2, "a transaction's posts record their deliveries")
	require.ElementsMatch(f.t, res[1], []store.ID{ds[0].Message, ds[1].Message})
	require.Equal(f.t, s.ID, ds[0].Subscription)

	// A failed transaction records nothing.
	f.post(in, "job2")
	c = f.claim(in, 1)
	_, err := f.tx(postOp(out, "lost"), delOp(in, store.ID{}, c.Messages[0].ID))
	require.ErrorIs(f.t, err, store.ErrClaimMismatch)
	f.advance(time.Hour)
	require.Len(f.t, f.leaseAll(), 2, "only the two of the committed transaction")
}

func testSubDeleteRemovesDeliveries(f *fixture) {
	sb := f.subscriber()
	q := ref("q")
	a := f.subscribe(q, "http://a")
	b := f.subscribe(q, "http://b")
	f.post(q, "m0", "m1")
	ds := f.leaseAll()
	for _, d := range ds {
		if d.Subscription == a.ID {
			f.settle(d, store.Failed, time.Time{}, "no")
			break
		}
	}
	require.NoError(f.t, sb.DeleteSubscription(f.ctx, store.DeleteSubscriptionParams{Queue: q, ID: a.ID}))
	require.Empty(f.t, f.failed(q, store.ID{}), "failed deliveries went with it")
	f.advance(time.Hour)
	left := f.leaseAll()
	require.Len(f.t, left, 2, "pending deliveries went with it")
	for _, d := range left {
		require.Equal(f.t, b.ID, d.Subscription)
	}
}

func testSubLeaseSettle(f *fixture) {
	f.subscriber()
	q := ref("q")
	f.subscribe(q, "http://a")
	ds, next := f.lease(10, time.Minute)
	require.Empty(f.t, ds)
	require.True(f.t, next.IsZero(), "nothing pending: next is zero")

	f.post(q, "m0", "m1", "m2")
	first, next := f.lease(2, 30*time.Second)
	require.Len(f.t, first, 2, "up to Limit")
	requireTime(f.t, f.now, next, "with one left due now, next is now")
	third, next := f.lease(10, time.Minute)
	require.Len(f.t, third, 1)
	requireTime(f.t, f.now.Add(30*time.Second), next, "next: the first lease's end")

	none, _ := f.lease(10, time.Minute)
	require.Empty(f.t, none, "leased deliveries are hidden until the lease ends")
	f.advance(30*time.Second - time.Nanosecond)
	none, _ = f.lease(10, time.Minute)
	require.Empty(f.t, none)
	f.advance(time.Nanosecond)
	again, _ := f.lease(10, time.Minute)
	require.Equal(f.t, deliveryIDs(first), deliveryIDs(again), "a lease that ends hands the delivery out again (at-least-once)")
	require.Zero(f.t, again[0].Attempts, "a lease is not an attempt")

	f.settle(again[0], store.Delivered, time.Time{}, "")
	retryAt := f.now.Add(5 * time.Minute)
	f.settle(again[1], store.Retry, retryAt, "503")
	f.advance(30 * time.Second) // the third's lease is over
	ds, next = f.lease(10, time.Minute)
	require.Equal(f.t, deliveryIDs(third), deliveryIDs(ds))
	f.settle(ds[0], store.Delivered, time.Time{}, "")
	ds, next = f.lease(10, time.Minute)
	require.Empty(f.t, ds)
	requireTime(f.t, retryAt, next, "a retry is due at RetryAt")
	f.now = retryAt
	ds, _ = f.lease(10, time.Minute)
	require.Len(f.t, ds, 1)
	require.Equal(f.t, again[1].ID, ds[0].ID)
	require.Equal(f.t, 1, ds[0].Attempts, "a retry counts an attempt")
	require.Equal(f.t, "503", ds[0].LastError)

	f.settle(ds[0], store.Delivered, time.Time{}, "")
	f.settle(ds[0], store.Delivered, time.Time{}, "") // twice: it is gone
	ds, next = f.lease(10, time.Minute)
	require.Empty(f.t, ds)
	require.True(f.t, next.IsZero(), "all delivered: nothing pending")
}

func testSubFailed(f *fixture) {
	sb := f.subscriber()
	q := ref("q")
	a := f.subscribe(q, "http://a")
	b := f.subscribe(q, "http://b")
	f.post(q, "m0", "m1", "m2")
	ds := f.leaseAll()
	require.Len(f.t, ds, 6)
	for _, d := range ds {
		f.settle(d, store.Failed, time.Time{}, "410 gone")
	}
	none, next := f.lease(10, time.Minute)
	require.Empty(f.t, none)
	require.True(f.t, next.IsZero(), "failed deliveries are not due")

	all := f.failed(q, store.ID{})
	require.Equal(f.t, deliveryIDs(ds), deliveryIDs(all), "in ID order")
	for _, d := range all {
		require.Equal(f.t, 1, d.Attempts)
		require.Equal(f.t, "410 gone", d.LastError)
		requireTime(f.t, f.now, d.NextAttempt, "a failed delivery's NextAttempt is when it was last tried")
	}
	ofA := f.failed(q, a.ID)
	require.Len(f.t, ofA, 3)
	for _, d := range ofA {
		require.Equal(f.t, a.ID, d.Subscription)
	}
	require.Empty(f.t, f.failed(ref("other"), store.ID{}))
	require.Empty(f.t, f.failed(ref("other"), a.ID), "a subscription of another queue lists nothing")

	var got []store.ID
	var marker store.ID
	for {
		page, err := sb.ListFailedDeliveries(f.ctx, store.ListFailedDeliveriesParams{Queue: q, Marker: marker, Limit: 4})
		require.NoError(f.t, err)
		if len(page) == 0 {
			break
		}
		got = append(got, deliveryIDs(page)...)
		marker = page[len(page)-1].ID
	}
	require.Equal(f.t, deliveryIDs(all), got, "pages with a marker")

	n, err := sb.RetryFailedDeliveries(f.ctx, store.RetryFailedDeliveriesParams{Queue: ref("other"), IDs: deliveryIDs(all), Now: f.now})
	require.NoError(f.t, err)
	require.Zero(f.t, n, "another queue's IDs are skipped")
	f.advance(time.Second)
	n, err = sb.RetryFailedDeliveries(f.ctx, store.RetryFailedDeliveriesParams{Queue: q, IDs: append(deliveryIDs(ofA), fakeID(3), ofA[0].ID), Now: f.now})
	require.NoError(f.t, err)
	require.Equal(f.t, 3, n, "each failed one of the queue once; others skipped")
	require.Len(f.t, f.failed(q, store.ID{}), 3)
	require.Len(f.t, f.failed(q, b.ID), 3)
	revived, _ := f.lease(10, time.Minute)
	require.Equal(f.t, deliveryIDs(ofA), deliveryIDs(revived), "revived ones are due at Now")
	for _, d := range revived {
		require.Zero(f.t, d.Attempts, "with Attempts reset")
	}
}

func testSubSettleMissing(f *fixture) {
	sb := f.subscriber()
	q := ref("q")
	for _, o := range []store.Outcome{store.Delivered, store.Retry, store.Failed} {
		require.NoError(f.t, sb.SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: q, ID: fakeID(1), Outcome: o, RetryAt: f.now, Now: f.now}))
	}
	f.subscribe(q, "http://a")
	f.post(q, "m")
	ds := f.leaseAll()
	// Through another queue it is missing too.
	require.NoError(f.t, sb.SettleDelivery(f.ctx, store.SettleDeliveryParams{Queue: ref("other"), ID: ds[0].ID, Outcome: store.Delivered, Now: f.now}))
	f.advance(time.Minute)
	require.Len(f.t, f.leaseAll(), 1, "settling through another queue changed nothing")
	require.Empty(f.t, f.failed(q, store.ID{}))
}

func testSubReopen(f *fixture) {
	f.requireReopen()
	f.subscriber()
	q := ref("q")
	a, _ := f.subscribeWith(store.CreateSubscriptionParams{Queue: q, Subscriber: "http://a", TTL: time.Hour, Options: raw(`{"k":1}`)})
	b := f.subscribe(q, "http://b")
	f.post(q, "m0", "m1")
	ds, _ := f.lease(1, time.Minute) // one leased
	f.settle(ds[0], store.Failed, time.Time{}, "no")
	leased, _ := f.lease(1, time.Minute)
	pending := f.leaseAll() // and leased too: all are leased until +1m

	f.reopen()
	require.Equal(f.t, []store.Subscription{a, b}, f.subs(q), "subscriptions survive")
	require.True(f.t, f.has())
	require.Equal(f.t, deliveryIDs(ds), deliveryIDs(f.failed(q, store.ID{})), "failed deliveries survive")
	none, next := f.lease(10, time.Minute)
	require.Empty(f.t, none, "leases survive")
	requireTime(f.t, f.now.Add(time.Minute), next, "next due")
	f.advance(time.Minute)
	got := f.leaseAll()
	require.Equal(f.t, append(deliveryIDs(leased), deliveryIDs(pending)...), deliveryIDs(got), "pending deliveries survive")
	for _, d := range got {
		require.NotEmpty(f.t, d.Body)
	}
	c := f.subscribe(q, "http://c")
	require.Positive(f.t, c.ID.Compare(got[len(got)-1].ID), "IDs keep increasing")
}
