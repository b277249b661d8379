package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of attempt counting (J1): a consumer that hands back
// messages it never started gives back the claim counts its claim added,
// and a claim reports each message its C6 move took.

var attemptTests = []subtest{
	{"J1/UnstartedReleaseUncounts", testUnstartedReleaseUncounts},
	{"J1/UnstartedReleaseOfWholeClaim", testUnstartedReleaseOfWholeClaim},
	{"J1/UnstartedReleaseOnlyLiveClaim", testUnstartedReleaseOnlyLiveClaim},
	{"J1/UnstartedNeverDeadLetters", testUnstartedNeverDeadLetters},
	{"C6/DeadLettersNamed", testDeadLettersNamed},
}

// releaseUnstarted hands back ids of a claim (all of them when empty) as
// never started.
func (f *fixture) releaseUnstarted(q store.QueueRef, claim store.ID, delay time.Duration, ids ...store.ID) {
	f.t.Helper()
	err := f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: claim, Delay: delay, IDs: ids, Unstarted: true, Now: f.now})
	require.NoError(f.t, err, "ReleaseClaim of %v unstarted", ids)
}

// claimCounts returns the stored claim count of each of ids.
func (f *fixture) claimCounts(q store.QueueRef, ids ...store.ID) []int {
	f.t.Helper()
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = f.getOne(q, id).ClaimCount
	}
	return out
}

// Released with IDs, unstarted messages get their count back; the rest
// of the claim and other messages keep theirs, and the release is a
// release in every other way (C5).
func testUnstartedReleaseUncounts(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1", "m2", "m3")
	f.release(q, f.claim(q, 2).Claim.ID, 0) // m0 and m1 claimed once before
	a := f.claim(q, 4)
	require.Equal(f.t, []int{2, 2, 1, 1}, f.claimCounts(q, m...))

	f.releaseUnstarted(q, a.Claim.ID, 10*time.Second, m[1], m[2], m[2], fakeID(1))
	require.Equal(f.t, []int{2, 1, 0, 1}, f.claimCounts(q, m...), "each released message once, the kept ones not")
	f.requireHeld(q, a.Claim.ID, m[0], m[3])
	f.counts(q, 0, 2, 2)
	requireTime(f.t, f.now.Add(10*time.Second), f.getOne(q, m[1]).VisibleAt, "the delay applies")

	f.advance(10 * time.Second)
	b := f.claim(q, 10)
	require.Equal(f.t, m[1:3], ids(b.Messages))
	require.Equal(f.t, 2, b.Messages[0].ClaimCount, "the next claim counts as if the handed-back one had not happened")
	require.Equal(f.t, 1, b.Messages[1].ClaimCount)
}

// Without IDs the whole claim goes back uncounted, and ends.
func testUnstartedReleaseOfWholeClaim(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1", "m2")
	a := f.claim(q, 3)
	require.NoError(f.t, f.del(q, a.Claim.ID, m[1]))
	f.releaseUnstarted(q, a.Claim.ID, 0)
	f.requireNoClaim(q, a.Claim.ID)
	f.counts(q, 2, 0, 0)
	require.Equal(f.t, []int{0, 0}, f.claimCounts(q, m[0], m[2]))
	require.Equal(f.t, 1, f.claim(q, 1).Messages[0].ClaimCount)
}

// Only the live claim's own messages lose a count: a stale claim (expired,
// released, unknown) hands back nothing and changes nothing, even when a
// newer claim holds its messages (C3), and another claim's messages in
// the list are skipped.
func testUnstartedReleaseOnlyLiveClaim(f *fixture) {
	q := ref("q")
	m := f.post(q, "m0", "m1", "m2")
	expired := f.claim(q, 2)
	f.now = expired.Claim.Expires
	current := f.claim(q, 2)
	require.Equal(f.t, m[:2], ids(current.Messages))
	other := f.claim(q, 1)
	before := f.snapshots(q)
	for _, stale := range []store.ID{expired.Claim.ID, fakeID(1)} {
		f.releaseUnstarted(q, stale, 0, m...)
		f.releaseUnstarted(q, stale, 0)
		require.Equal(f.t, before, f.snapshots(q), "an unstarted release under stale claim %v changed the store", stale)
	}
	f.releaseUnstarted(q, current.Claim.ID, 0, m[0], m[2])
	require.Equal(f.t, []int{1, 2, 1}, f.claimCounts(q, m...), "m2 is another claim's")
	f.requireHeld(q, other.Claim.ID, m[2])
	f.requireHeld(q, current.Claim.ID, m[1])
}

// The scenario at store level: a consumer that claims and hands
// back unstarted again and again never moves a message to the
// dead-letter queue (C6 counts attempts, not hand-backs).
func testUnstartedNeverDeadLetters(f *fixture) {
	q := ref("q")
	f.create(q, dlqMeta)
	m := f.post(q, bodies(10)...)
	for round := range 5 {
		c := f.claim(q, 10)
		require.Equal(f.t, m, ids(c.Messages), "round %d", round)
		require.Zero(f.t, c.DeadLettered)
		for _, msg := range c.Messages {
			require.Equal(f.t, 1, msg.ClaimCount, "round %d", round)
		}
		f.releaseUnstarted(q, c.Claim.ID, 0, ids(c.Messages)...)
	}
	f.requireNoQueue(ref("dlq"))
}

// A claim that moves messages names each: its old and new ID and its
// claim count, in the order moved.
func testDeadLettersNamed(f *fixture) {
	q, dlq := ref("q"), ref("dlq")
	f.create(q, dlqMeta)
	m := f.post(q, "a", "b", "c")
	for range 2 {
		f.release(q, f.claim(q, 2).Claim.ID, 0)
	}
	c := f.claim(q, 3)
	require.Equal(f.t, m[2:], ids(c.Messages))
	require.Equal(f.t, 2, c.DeadLettered)
	require.Len(f.t, c.DeadLetters, 2)
	moved := f.visible(dlq)
	for i, d := range c.DeadLetters {
		require.Equal(f.t, store.DeadLetter{ID: m[i], NewID: moved[i], ClaimCount: 2}, d)
	}
	require.Empty(f.t, f.claim(q, 3).DeadLetters, "no move, none named")
}
