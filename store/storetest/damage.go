package storetest

import (
	"context"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The M11 subtests: a body that fails its checksum is never returned and
// never stalls its queue. Whatever call meets it leaves it out, returns
// the healthy messages around it, and sets it aside in a damaged set
// (store.DamageKeeper) that Stats.Damaged counts — its dead-letter
// queue's, when it has one.
var damageTests = []subtest{
	{"M11/DamagedSetAsideByEveryRead", testDamagedSetAsideByEveryRead},
	{"M11/DamagedHeldByClaim", testDamagedHeldByClaim},
	{"M11/DamagedDeadLettered", testDamagedDeadLettered},
	{"M11/DamagedListAndDelete", testDamagedListAndDelete},
	{"M11/DamagedGoWithTheirQueue", testDamagedGoWithTheirQueue},
	{"M11/DamagedReported", testDamagedReported},
	{"E1/DoneCtxDamageKeeper", testDamageKeeperDoneCtx},
}

// keeper returns the store's DamageKeeper, skipping the subtest if the
// store cannot damage a body on purpose.
func (f *fixture) keeper() store.DamageKeeper {
	f.t.Helper()
	if f.opts.Corrupt == nil {
		f.t.Skip("Options.Corrupt not set")
	}
	dk, ok := f.s.(store.DamageKeeper)
	require.True(f.t, ok, "a store that checks bodies must implement store.DamageKeeper")
	return dk
}

// damaged lists q's damaged set.
func (f *fixture) damaged(q store.QueueRef) []store.DamagedMessage {
	f.t.Helper()
	ms, err := f.keeper().ListDamaged(f.ctx, store.ListDamagedParams{Queue: q, Limit: pageSize})
	require.NoError(f.t, err, "ListDamaged %v", q)
	return ms
}

// requireAside checks that q's damaged set holds exactly want, from
// queue from, counted in q's stats.
func (f *fixture) requireAside(q store.QueueRef, from string, want ...store.ID) {
	f.t.Helper()
	got := f.damaged(q)
	gotIDs := make([]store.ID, len(got))
	for i, d := range got {
		gotIDs[i] = d.ID
		require.Equal(f.t, from, d.Queue, "damaged %s: origin queue", d.ID)
		require.False(f.t, store.Intact(d.Body, d.Checksum), "damaged %s: body still fails its checksum", d.ID)
		requireTime(f.t, f.now, d.Found, "damaged "+d.ID.String()+": Found")
	}
	if len(want) == 0 {
		want = []store.ID{}
	}
	require.Equal(f.t, want, gotIDs, "damaged set of %v", q)
	require.Equal(f.t, int64(len(want)), f.stats(q).Damaged, "Stats.Damaged of %v", q)
}

func testDamagedSetAsideByEveryRead(f *fixture) {
	f.keeper()
	// Each read meets the damaged message at the head of its queue and
	// must return the healthy ones behind it, filling its limit.
	for name, read := range map[string]func(q store.QueueRef, m []store.ID) []store.ID{
		"CreateClaim": func(q store.QueueRef, m []store.ID) []store.ID {
			return ids(f.claim(q, 2).Messages)
		},
		"PopMessages": func(q store.QueueRef, m []store.ID) []store.ID {
			return ids(f.pop(q, 2))
		},
		"ListMessages": func(q store.QueueRef, m []store.ID) []store.ID {
			return ids(f.list(store.ListMessagesParams{Queue: q, Limit: 2}))
		},
		"ListMessagesIncludeAll": func(q store.QueueRef, m []store.ID) []store.ID {
			return ids(f.list(store.ListMessagesParams{Queue: q, Limit: 2, IncludeClaimed: true, IncludeDelayed: true}))
		},
		"GetMessages": func(q store.QueueRef, m []store.ID) []store.ID {
			return ids(f.get(q, m...))[:2]
		},
	} {
		q := ref(name)
		m := f.post(q, "bad", "good1", "good2")
		f.opts.Corrupt(f.t, f.s, q, m[0])
		require.Equal(f.t, m[1:], read(q, m), "%s returns the healthy messages", name)
		f.requireAside(q, q.Name, m[0])
		require.Empty(f.t, f.get(q, m[0]), "%s: the damaged message left the queue", name)
		require.Equal(f.t, int64(len(f.get(q, m[1:]...))), f.stats(q).Total, "%s: Total counts the healthy messages only", name)
		// The queue flows: what is left is claimable.
		rest := ids(f.claim(q, 10).Messages)
		require.NotContains(f.t, rest, m[0], "%s: the damaged message is never claimed", name)
	}

	// Delete-and-claim: the handled batch goes, the damaged message is
	// stepped over, the next healthy one is claimed.
	q := ref("deleteAndClaim")
	m := f.post(q, "done", "bad", "good")
	done := f.claim(q, 1)
	f.opts.Corrupt(f.t, f.s, q, m[1])
	res, err := f.deleteAndClaim(q, done.Claim.ID, 1, m[0])
	require.NoError(f.t, err, "CreateClaim with Delete")
	require.Equal(f.t, []store.ID{m[2]}, ids(res.Messages))
	require.Empty(f.t, f.get(q, m[0], m[1]))
	f.requireAside(q, q.Name, m[1])
	f.counts(q, 0, 1, 0)
}

func testDamagedHeldByClaim(f *fixture) {
	f.keeper()
	q := ref("q")
	m := f.post(q, "a", "bad", "c")
	c := f.claim(q, 3)
	f.opts.Corrupt(f.t, f.s, q, m[1])
	_, held := f.getClaim(q, c.Claim.ID)
	require.Equal(f.t, []store.ID{m[0], m[2]}, ids(held), "GetClaim returns the healthy messages")
	f.requireAside(q, q.Name, m[1])
	f.requireHeld(q, c.Claim.ID, m[0], m[2])
	f.counts(q, 0, 2, 0)
	// The damaged message left the claim, so a settle naming it fails
	// whole (C3, M8): the claim no longer holds it.
	require.ErrorIs(f.t, f.del(q, c.Claim.ID, m...), store.ErrMessageGone, "settling the damaged message too")
	f.counts(q, 0, 2, 0)
	require.NoError(f.t, f.del(q, c.Claim.ID, m[0], m[2]), "settling the healthy messages")
	f.counts(q, 0, 0, 0)

	// A claim that held only damaged messages ends with them.
	q2 := ref("q2")
	m = f.post(q2, "bad")
	c = f.claim(q2, 1)
	f.opts.Corrupt(f.t, f.s, q2, m[0])
	f.requireNoClaim(q2, c.Claim.ID)
	f.requireAside(q2, q2.Name, m[0])
	f.counts(q2, 0, 0, 0)
}

func testDamagedDeadLettered(f *fixture) {
	f.keeper()
	// A damaged message of a queue with a dead-letter queue is set aside
	// in the dead-letter queue's damaged set, which is created if
	// missing, and never posted there as a message (C6 neither).
	q := ref("q")
	dlq := ref("dlq")
	f.create(q, `{"_max_claim_count":1,"_dead_letter_queue":"dlq"}`)
	m := f.post(q, "bad", "tired", "good")
	c := f.claim(q, 2)
	require.Equal(f.t, m[:2], ids(c.Messages))
	f.release(q, c.Claim.ID, 0)
	f.opts.Corrupt(f.t, f.s, q, m[0])

	res := f.claim(q, 10)
	require.Equal(f.t, []store.ID{m[2]}, ids(res.Messages))
	require.Equal(f.t, 1, res.DeadLettered, "the healthy message past its count moves (C6); the damaged one does not")
	f.requireAside(dlq, q.Name, m[0])
	f.requireAside(q, "")
	moved := f.all(dlq)
	require.Len(f.t, moved, 1)
	require.Equal(f.t, "tired", string(moved[0].Body))

	// Any _dead_letter_queue will do, without _max_claim_count, and a pop
	// or list sets aside there too.
	var want []store.DamagedMessage
	for _, op := range []string{"pop", "list"} {
		q := ref("only" + op)
		f.create(q, `{"_dead_letter_queue":"dlq2"}`)
		m := f.post(q, "bad", "good")
		f.opts.Corrupt(f.t, f.s, q, m[0])
		var got []store.ID
		if op == "pop" {
			got = ids(f.pop(q, 1))
		} else {
			got = f.visible(q)
		}
		require.Equal(f.t, []store.ID{m[1]}, got, op)
		want = append(want, store.DamagedMessage{ID: m[0], Queue: q.Name})
	}
	got := f.damaged(ref("dlq2"))
	require.Len(f.t, got, 2)
	for i := range got {
		require.Equal(f.t, want[i].ID, got[i].ID)
		require.Equal(f.t, want[i].Queue, got[i].Queue)
	}
	require.Equal(f.t, int64(2), f.stats(ref("dlq2")).Damaged)
}

func testDamagedListAndDelete(f *fixture) {
	dk := f.keeper()
	q := ref("q")
	m := f.post(q, "a", "b", "c", "d")
	for _, id := range m[:3] {
		f.opts.Corrupt(f.t, f.s, q, id)
	}
	require.Equal(f.t, []store.ID{m[3]}, ids(f.pop(q, 10)))
	f.requireAside(q, q.Name, m[:3]...)

	page, err := dk.ListDamaged(f.ctx, store.ListDamagedParams{Queue: q, Limit: 2})
	require.NoError(f.t, err)
	require.Equal(f.t, []store.ID{m[0], m[1]}, damagedIDs(page))
	page, err = dk.ListDamaged(f.ctx, store.ListDamagedParams{Queue: q, Marker: m[1], Limit: 2})
	require.NoError(f.t, err)
	require.Equal(f.t, []store.ID{m[2]}, damagedIDs(page), "the marker is exclusive")

	require.NoError(f.t, dk.DeleteDamaged(f.ctx, store.DeleteDamagedParams{Queue: q, IDs: []store.ID{m[1], m[1], m[3]}}))
	f.requireAside(q, q.Name, m[0], m[2])
	require.NoError(f.t, dk.DeleteDamaged(f.ctx, store.DeleteDamagedParams{Queue: q, IDs: []store.ID{m[0], m[2]}}))
	f.requireAside(q, q.Name)

	_, err = dk.ListDamaged(f.ctx, store.ListDamagedParams{Queue: q, Limit: 0})
	require.ErrorIs(f.t, err, store.ErrInvalidLimit)
	_, err = dk.ListDamaged(f.ctx, store.ListDamagedParams{Queue: ref("a/b"), Limit: 1})
	require.ErrorIs(f.t, err, store.ErrInvalidName)
	none, err := dk.ListDamaged(f.ctx, store.ListDamagedParams{Queue: ref("missing"), Limit: 1})
	require.NoError(f.t, err, "a missing queue has no damaged messages")
	require.Empty(f.t, none)

	if f.opts.Reopen != nil {
		m := f.post(q, "bad")
		f.opts.Corrupt(f.t, f.s, q, m[0])
		require.Empty(f.t, f.visible(q))
		f.reopen()
		f.requireAside(q, q.Name, m[0])
	}
}

func testDamagedGoWithTheirQueue(f *fixture) {
	f.keeper()
	for _, purge := range []bool{false, true} {
		q := ref("q")
		m := f.post(q, "bad", "good")
		f.opts.Corrupt(f.t, f.s, q, m[0])
		require.Len(f.t, f.pop(q, 1), 1)
		f.requireAside(q, q.Name, m[0])
		if purge {
			require.NoError(f.t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: q, Now: f.now}))
			f.requireAside(q, q.Name)
		} else {
			require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: q}))
			require.Empty(f.t, f.damaged(q), "a deleted queue's damaged set goes with it (Q6)")
		}
		require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: q}))
	}
}

func testDamagedReported(f *fixture) {
	dk := f.keeper()
	var mu sync.Mutex
	got := map[store.QueueRef][]store.ID{}
	dk.OnDamage(func(to store.QueueRef, ms []store.DamagedMessage) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range ms {
			got[to] = append(got[to], m.ID)
		}
	})
	q := ref("q")
	m := f.post(q, "bad1", "bad2", "good")
	f.opts.Corrupt(f.t, f.s, q, m[0])
	f.opts.Corrupt(f.t, f.s, q, m[1])
	require.Equal(f.t, []store.ID{m[2]}, f.visible(q))
	require.Equal(f.t, []store.ID{m[2]}, f.visible(q), "a second read finds the damaged messages gone")
	mu.Lock()
	require.Equal(f.t, map[store.QueueRef][]store.ID{q: {m[0], m[1]}}, got, "each damaged message is reported once, when set aside")
	mu.Unlock()
	dk.OnDamage(nil)
	bad3 := f.post(q, "bad3")[0]
	f.opts.Corrupt(f.t, f.s, q, bad3)
	require.Equal(f.t, []store.ID{m[2]}, ids(f.pop(q, 10)))
	f.requireAside(q, q.Name, m[0], m[1], bad3)
	mu.Lock()
	require.Len(f.t, got[q], 2, "OnDamage(nil) turns the report off")
	mu.Unlock()
}

func damagedIDs(ms []store.DamagedMessage) []store.ID {
	out := make([]store.ID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// testDamageKeeperDoneCtx: the DamageKeeper methods follow E1 like every
// other: with a ctx already done they return ctx.Err() and change
// nothing, the listing included.
func testDamageKeeperDoneCtx(f *fixture) {
	dk := f.keeper()
	q := ref("q")
	m := f.post(q, "bad", "good")
	f.opts.Corrupt(f.t, f.s, q, m[0])
	require.Len(f.t, f.pop(q, 1), 1)
	f.requireAside(q, q.Name, m[0])

	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := dk.ListDamaged(done, store.ListDamagedParams{Queue: q, Limit: 10})
	require.ErrorIs(f.t, err, context.Canceled, "ListDamaged with a cancelled ctx")
	err = dk.DeleteDamaged(done, store.DeleteDamagedParams{Queue: q, IDs: []store.ID{m[0]}})
	require.ErrorIs(f.t, err, context.Canceled, "DeleteDamaged with a cancelled ctx")
	f.requireAside(q, q.Name, m[0])
}
