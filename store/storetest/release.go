package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of ReleaseClaim with IDs (C5): a consumer gives back the
// messages it failed on and keeps working on the rest of its claim.

// releaseSome releases only ids of a claim, freeing them after delay (C5).
func (f *fixture) releaseSome(q store.QueueRef, claim store.ID, delay time.Duration, ids ...store.ID) {
	f.t.Helper()
	err := f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: claim, Delay: delay, IDs: ids, Now: f.now})
	require.NoError(f.t, err, "ReleaseClaim %v of %v", claim, ids)
}

// requireHeld checks that a live claim holds exactly want.
func (f *fixture) requireHeld(q store.QueueRef, claim store.ID, want ...store.ID) {
	f.t.Helper()
	_, held := f.getClaim(q, claim)
	require.ElementsMatch(f.t, want, ids(held), "messages claim %v holds", claim)
	for _, m := range held {
		require.Equal(f.t, claim, m.ClaimID)
	}
}

func testReleaseSomeFreesOnlyThose(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1", "m2", "m3")
	a := f.claim(q, 4)
	f.advance(time.Second)
	f.releaseSome(q, a.Claim.ID, 0, m[1], m[3])

	require.Equal(f.t, []store.ID{m[1], m[3]}, f.visible(q), "released messages are free at once")
	f.counts(q, 2, 2, 0)
	for _, msg := range f.get(q, m[1], m[3]) {
		require.True(f.t, msg.ClaimID.IsZero(), "a released message names no claim")
		requireTime(f.t, f.now, msg.VisibleAt, "VisibleAt of a message released without delay")
	}
	info, _ := f.getClaim(q, a.Claim.ID)
	requireClaimInfo(f, a.Claim, info)
	f.requireHeld(q, a.Claim.ID, m[0], m[2])

	renewed, err := f.renew(q, a.Claim.ID, claimTTL, 0)
	require.NoError(f.t, err, "the claim is still live and renewable")
	requireTime(f.t, f.now.Add(claimTTL), renewed.Expires, "renewed Expires")

	b := f.claim(q, 10)
	require.Equal(f.t, []store.ID{m[1], m[3]}, ids(b.Messages), "another claim takes the released messages")
	for _, msg := range b.Messages {
		require.Equal(f.t, 2, msg.ClaimCount, "claim counts are kept and count the new claim")
	}
	for _, msg := range f.get(q, m[0], m[2]) {
		require.Equal(f.t, 1, msg.ClaimCount, "the kept messages were claimed once")
	}
	require.ErrorIs(f.t, f.del(q, a.Claim.ID, m[1]), store.ErrClaimMismatch, "the first claim no longer holds a released message")
	require.NoError(f.t, f.del(q, a.Claim.ID, m[0]), "the first claim still deletes what it kept")
	f.requireHeld(q, a.Claim.ID, m[2])
	f.counts(q, 0, 3, 0)
}

func testReleaseSomeWithDelay(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1", "m2")
	a := f.claim(q, 3)
	f.advance(time.Second)
	for _, delay := range []time.Duration{-time.Second, time.Duration(1<<63 - 1)} {
		err := f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: a.Claim.ID, Delay: delay, IDs: m[:1], Now: f.now})
		require.ErrorIs(f.t, err, store.ErrInvalidDelay, "delay %v", delay)
		f.counts(q, 0, 3, 0)
	}

	f.releaseSome(q, a.Claim.ID, 30*time.Second, m[0])
	visibleAt := f.now.Add(30 * time.Second)
	f.counts(q, 0, 2, 1)
	got := f.getOne(q, m[0])
	requireTime(f.t, visibleAt, got.VisibleAt, "VisibleAt after a delayed release")
	require.True(f.t, got.ClaimID.IsZero(), "a released message names no claim")
	require.Empty(f.t, f.visible(q))
	require.Empty(f.t, f.pop(q, 10))
	f.requireNextReady(q, visibleAt)
	f.requireHeld(q, a.Claim.ID, m[1:]...)

	f.now = visibleAt.Add(-time.Nanosecond)
	f.requireNextReady(q, visibleAt)
	f.now = visibleAt
	b := f.claim(q, 10)
	require.Equal(f.t, m[:1], ids(b.Messages))
	require.Equal(f.t, 2, b.Messages[0].ClaimCount)
}

// testReleaseSomeLastEndsClaim follows store.ClaimStore: a claim ends once
// it holds no message, and a release with IDs can be what empties it.
func testReleaseSomeLastEndsClaim(f *fixture) {
	q := ref("q")
	m := f.post(q, bodies(40)...)
	a := f.claim(q, 40)
	// Free the middle, then the ends newest first, so the claim is
	// searched across a long run of messages it no longer holds.
	f.releaseSome(q, a.Claim.ID, 0, m[5:35]...)
	kept := append(append([]store.ID{}, m[:5]...), m[35:]...)
	f.requireHeld(q, a.Claim.ID, kept...)
	f.counts(q, 30, 10, 0)
	for i := len(kept) - 1; i > 0; i-- {
		f.releaseSome(q, a.Claim.ID, 0, kept[i])
		f.requireHeld(q, a.Claim.ID, kept[:i]...)
	}
	f.releaseSome(q, a.Claim.ID, 0, kept[0])
	f.requireNoClaim(q, a.Claim.ID)
	f.counts(q, 40, 0, 0)
	require.ErrorIs(f.t, f.del(q, a.Claim.ID, m[0]), store.ErrNotClaimed, "an ended claim guards nothing")
	f.release(q, a.Claim.ID, 0)
	f.releaseSome(q, a.Claim.ID, 0, m[0])

	// Every message at once ends the claim too.
	b := f.claim(q, 3)
	f.releaseSome(q, b.Claim.ID, time.Minute, ids(b.Messages)...)
	f.requireNoClaim(q, b.Claim.ID)
	f.counts(q, 37, 0, 3)
}

// testReleaseSomeSkipsOthers gives a release IDs its claim does not hold:
// another claim's, free, missing, deleted and another queue's messages are
// left alone.
func testReleaseSomeSkipsOthers(f *fixture) {
	q, other := ref("q"), ref("other")
	m := f.post(q, "a0", "a1", "b", "free", "deleted")
	a := f.claim(q, 2)
	b := f.claim(q, 1)
	require.NoError(f.t, f.del(q, store.ID{}, m[4]))
	x := f.post(other, "x")
	f.claim(other, 1)
	before := f.snapshots(q, other)

	f.releaseSome(q, a.Claim.ID, 0, m[2], m[3], m[4], fakeID(1), x[0])
	require.Equal(f.t, before, f.snapshots(q, other), "a release of messages the claim does not hold changed the store")
	f.requireHeld(q, a.Claim.ID, m[0], m[1])

	f.releaseSome(q, a.Claim.ID, 0, m[2], m[0], m[0], x[0])
	f.requireHeld(q, a.Claim.ID, m[1])
	f.requireHeld(q, b.Claim.ID, m[2])
	require.Equal(f.t, []store.ID{m[0], m[3]}, f.visible(q))
	f.counts(q, 2, 2, 0)
	f.counts(other, 0, 1, 0)
}

// testReleaseSomeStaleClaimIsNoop releases IDs under claims that are
// unknown, expired or released: nothing changes, even when a newer claim
// holds the messages (C3, C5).
func testReleaseSomeStaleClaimIsNoop(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1")
	f.releaseSome(q, fakeID(1), 0, m...)
	f.counts(q, 2, 0, 0)

	expired := f.claim(q, 1)
	released := f.claim(q, 1)
	f.release(q, released.Claim.ID, 0)
	f.now = expired.Claim.Expires
	current := f.claim(q, 2)
	require.Equal(f.t, m, ids(current.Messages))
	before := f.snapshots(q)
	for _, stale := range []store.ID{expired.Claim.ID, released.Claim.ID} {
		f.releaseSome(q, stale, time.Hour, m...)
		require.Equal(f.t, before, f.snapshots(q), "a release under stale claim %v changed the store", stale)
	}
	f.requireHeld(q, current.Claim.ID, m...)
}
