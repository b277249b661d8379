package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of settling through a claim that is no longer live (C3:
// claim IDs are fencing tokens; M8). Settling is deleting under a claim:
// DeleteMessages with Claim, a Transact delete with Claim, CreateClaim with
// Delete. With a claim named, every named message must be held by that
// live claim right now; otherwise the call fails whole and changes nothing,
// even when the message is already gone.
var fenceTests = []subtest{
	{"C3/StaleSettleFailsEveryPath", testStaleSettleFailsEveryPath},
	{"C3/StaleSettleOfSeveralFailsWhole", testStaleSettleOfSeveralFailsWhole},
	{"C3/StaleReleaseIsNoopRenewNotFound", testStaleReleaseIsNoopRenewNotFound},
}

// staleCase leaves a stale claim and the message it names in queue in
// (with "next", a free message, behind it), after doing to out what the
// case needs. It returns the stale claim and the message.
type staleCase struct {
	name  string
	setup func(f *fixture, in, out store.QueueRef) (stale, msg store.ID)
	// want is the error every settle path must give.
	want error
	// noQueue: the case deletes in.
	noQueue bool
}

// staleCases are the ways a claim stops holding its message. The first
// ones are the defect of issue 14: a newer claimant settled the work, then
// the stale claimant settles it again.
var staleCases = []staleCase{
	{"expired, newer claimant deleted it", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.now = a.Claim.Expires
		b := f.claimOne(in, m)
		require.NoError(f.t, f.del(in, b, m), "the newer claimant settles")
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"released, newer claimant deleted it", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.release(in, a.Claim.ID, 0)
		b := f.claimOne(in, m)
		require.NoError(f.t, f.del(in, b, m))
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"expired, newer claimant settled it in a transaction", func(f *fixture, in, out store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.now = a.Claim.Expires
		b := f.claimOne(in, m)
		f.settleTx(in, out, b, m)
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"expired twice, the third claimant deleted it", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.now = a.Claim.Expires
		b := f.claimWith(store.CreateClaimParams{Queue: in, TTL: time.Second, Limit: 1})
		f.now = b.Claim.Expires
		c := f.claimOne(in, m)
		require.NoError(f.t, f.del(in, c, m))
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"own settle succeeded, retried", func(f *fixture, in, out store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.settleTx(in, out, a.Claim.ID, m)
		f.advance(time.Millisecond)
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"message expired with its claim", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		m := f.postDrafts(in, store.Draft{Body: []byte("job"), TTL: 2 * time.Second})[0]
		f.post(in, "next")
		a := f.claimWith(store.CreateClaimParams{Queue: in, TTL: time.Second, Limit: 1})
		require.Equal(f.t, []store.ID{m}, ids(a.Messages))
		f.advance(2 * time.Second)
		require.Empty(f.t, f.get(in, m), "the message expired")
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"purged under a live claim", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		require.NoError(f.t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: in, Now: f.now}))
		f.post(in, "next")
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"force-deleted under a live claim", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		require.NoError(f.t, f.s.DeleteMessages(f.ctx, store.DeleteMessagesParams{Queue: in, IDs: []store.ID{m}, IgnoreClaims: true, Now: f.now}))
		return a.Claim.ID, m
	}, store.ErrMessageGone, false},
	{"queue deleted", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: in}))
		return a.Claim.ID, m
	}, store.ErrMessageGone, true},
	{"expired, newer claimant holds it", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.now = a.Claim.Expires
		f.claimOne(in, m)
		return a.Claim.ID, m
	}, store.ErrClaimMismatch, false},
	{"expired, message free", func(f *fixture, in, _ store.QueueRef) (store.ID, store.ID) {
		a, m := f.shortClaim(in)
		f.now = a.Claim.Expires
		return a.Claim.ID, m
	}, store.ErrNotClaimed, false},
}

// settlePaths are the three ways to settle under a claim. Each takes the
// stale claim and its message and returns the call's error.
var settlePaths = []struct {
	name string
	call func(f *fixture, in, out store.QueueRef, claim, msg store.ID) error
}{
	{"DeleteMessages", func(f *fixture, in, _ store.QueueRef, claim, msg store.ID) error {
		return f.del(in, claim, msg)
	}},
	{"Transact", func(f *fixture, in, out store.QueueRef, claim, msg store.ID) error {
		_, err := f.tx(delOp(in, claim, msg), postOp(out, "result again"))
		if err != nil {
			require.ErrorContains(f.t, err, "transaction op 0:")
		}
		return err
	}},
	{"CreateClaim.Delete", func(f *fixture, in, _ store.QueueRef, claim, msg store.ID) error {
		_, err := f.deleteAndClaim(in, claim, 10, msg)
		return err
	}},
}

// shortClaim posts "job" and "next" to q and claims the job for a second.
func (f *fixture) shortClaim(q store.QueueRef) (store.ClaimResult, store.ID) {
	f.t.Helper()
	m := f.post(q, "job", "next")
	a := f.claimWith(store.CreateClaimParams{Queue: q, TTL: time.Second, Limit: 1})
	require.Equal(f.t, m[:1], ids(a.Messages))
	return a, m[0]
}

// claimOne claims one message of q, which must be m, and returns the claim.
func (f *fixture) claimOne(q store.QueueRef, m store.ID) store.ID {
	f.t.Helper()
	b := f.claim(q, 1)
	require.Equal(f.t, []store.ID{m}, ids(b.Messages))
	return b.Claim.ID
}

// settleTx deletes m under claim from in and posts its result to out in one
// transaction, or, for a store without transactions, in two calls.
func (f *fixture) settleTx(in, out store.QueueRef, claim, m store.ID) {
	f.t.Helper()
	if _, ok := f.s.(store.Transactor); ok {
		f.mustTx(delOp(in, claim, m), postOp(out, "result"))
		return
	}
	require.NoError(f.t, f.del(in, claim, m))
	f.post(out, "result")
}

// testStaleSettleFailsEveryPath runs every stale case through every settle
// path: each fails with the case's error (every one but a message held by
// another claim matches ErrNotClaimed) and changes nothing: the message,
// the queue's other message, the claims and the output queue are as they
// were, no claim is made, and nothing is posted.
func testStaleSettleFailsEveryPath(f *fixture) {
	_, transactor := f.s.(store.Transactor)
	n := 0
	for _, sc := range staleCases {
		for _, path := range settlePaths {
			what := sc.name + "/" + path.name
			if path.name == "Transact" && !transactor {
				continue
			}
			n++
			in, out := ref(fmt.Sprint("in", n)), ref(fmt.Sprint("out", n))
			f.t.Run(what, func(t *testing.T) {
				g := *f // the same store, failing t; its clock goes back to f
				g.t = t
				defer func() { f.now = g.now }()
				g.staleSettle(sc, path.call, in, out)
			})
		}
	}
}

// staleSettle runs one stale case through one settle path on queues in and
// out.
func (f *fixture) staleSettle(sc staleCase, call func(f *fixture, in, out store.QueueRef, claim, msg store.ID) error, in, out store.QueueRef) {
	f.post(out, "earlier")
	stale, m := sc.setup(f, in, out)
	var before []snapshot
	if sc.noQueue {
		before = f.snapshots(out)
	} else {
		before = f.snapshots(in, out)
	}
	names := f.queueNames("p")

	err := call(f, in, out, stale, m)
	require.ErrorIs(f.t, err, sc.want)
	if sc.want != store.ErrClaimMismatch {
		require.ErrorIs(f.t, err, store.ErrNotClaimed, "a stale settle matches ErrNotClaimed")
	}
	require.ErrorContains(f.t, err, m.String(), "the error names the message")

	if sc.noQueue {
		require.Equal(f.t, before, f.snapshots(out), "a stale settle changed the store")
		f.requireNoQueue(in)
	} else {
		require.Equal(f.t, before, f.snapshots(in, out), "a stale settle changed the store")
	}
	require.Equal(f.t, names, f.queueNames("p"), "a stale settle changed the queue list")
	f.requireNoClaim(in, stale)
}

// testStaleSettleOfSeveralFailsWhole settles two messages under a stale
// claim, one the newer claimant deleted and one it still holds or left
// free, in each order: nothing is deleted.
func testStaleSettleOfSeveralFailsWhole(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1", "m2")
	a := f.claimWith(store.CreateClaimParams{Queue: q, TTL: time.Second, Limit: 3})
	f.now = a.Claim.Expires
	b := f.claim(q, 2) // m0, m1
	require.NoError(f.t, f.del(q, b.Claim.ID, m[0]))
	before := f.snapshots(q)
	for _, tc := range []struct {
		ids  []store.ID
		want error
	}{
		{[]store.ID{m[0], m[2]}, store.ErrMessageGone},
		{[]store.ID{m[2], m[0]}, store.ErrNotClaimed},
		{[]store.ID{m[1], m[0]}, store.ErrClaimMismatch},
		{[]store.ID{m[0], m[1], m[2]}, store.ErrMessageGone},
	} {
		require.ErrorIs(f.t, f.del(q, a.Claim.ID, tc.ids...), tc.want, "%v", tc.ids)
		_, err := f.deleteAndClaim(q, a.Claim.ID, 1, tc.ids...)
		require.ErrorIs(f.t, err, tc.want, "%v", tc.ids)
		require.Equal(f.t, before, f.snapshots(q))
	}
	// The live claim still settles what it holds, and only that.
	require.ErrorIs(f.t, f.del(q, b.Claim.ID, m[1], m[0]), store.ErrMessageGone, "b's own retry")
	require.NoError(f.t, f.del(q, b.Claim.ID, m[1], m[1]), "an ID named twice counts once")
	f.counts(q, 1, 0, 0)
}

// testStaleReleaseIsNoopRenewNotFound: only settling fails loudly. A stale
// claim's release stays a no-op (C5, Zaqar's idempotent claim DELETE) and
// its renew ErrClaimNotFound (C4), including after the message is gone.
func testStaleReleaseIsNoopRenewNotFound(f *fixture) {
	q := ref("q")
	a, m := f.shortClaim(q)
	f.now = a.Claim.Expires
	b := f.claimOne(q, m)
	require.NoError(f.t, f.del(q, b, m))
	before := f.snapshots(q)
	f.release(q, a.Claim.ID, 0)
	f.releaseSome(q, a.Claim.ID, 0, m)
	f.release(q, b, 0)
	f.requireNoClaim(q, a.Claim.ID)
	f.requireNoClaim(q, b)
	require.Equal(f.t, before, f.snapshots(q))
}
