package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of CreateClaim with Delete: a consumer deletes the batch it
// handled and claims the next in one transaction, all or nothing.

// deleteAndClaim deletes done under claim and claims up to limit in one call.
func (f *fixture) deleteAndClaim(q store.QueueRef, claim store.ID, limit int, done ...store.ID) (store.ClaimResult, error) {
	return f.s.CreateClaim(f.ctx, store.CreateClaimParams{Queue: q, TTL: claimTTL, Limit: limit,
		Delete: done, DeleteClaim: claim, Now: f.now})
}

func testDeleteAndClaimDeletesThenClaims(f *fixture) {
	q := ref("q")
	m := f.post(q, bodies(7)...)
	a := f.claim(q, 3)
	f.advance(time.Second)

	b, err := f.deleteAndClaim(q, a.Claim.ID, 3, m[0], m[1], m[2])
	require.NoError(f.t, err)
	require.Equal(f.t, m[3:6], ids(b.Messages), "the next batch is the oldest free messages")
	require.Empty(f.t, f.get(q, m[:3]...), "the handled batch is deleted")
	f.requireNoClaim(q, a.Claim.ID) // its last message left it
	f.requireHeld(q, b.Claim.ID, m[3:6]...)
	f.counts(q, 1, 3, 0)

	c, err := f.deleteAndClaim(q, b.Claim.ID, 3, m[3])
	require.NoError(f.t, err)
	require.Equal(f.t, m[6:], ids(c.Messages))
	f.requireHeld(q, b.Claim.ID, m[4], m[5]) // a partial delete keeps the rest
	f.counts(q, 0, 3, 0)

	last, err := f.deleteAndClaim(q, c.Claim.ID, 3, m[6])
	require.NoError(f.t, err)
	require.Empty(f.t, last.Messages, "nothing left to claim")
	require.True(f.t, last.Claim.ID.IsZero(), "no claim without messages")
	require.Equal(f.t, b.Claim.Expires, last.NextReady, "NextReady: b's claim still holds m4 and m5")

	require.Empty(f.t, f.get(q, m[6]), "the delete commits though the claim found nothing")
	f.counts(q, 0, 2, 0)

	// A repeat of a delete that succeeded: the claim no longer holds m6,
	// so the call fails whole and claims nothing (C3).
	before := f.snapshots(q)
	_, err = f.deleteAndClaim(q, c.Claim.ID, 3, m[6])
	require.ErrorIs(f.t, err, store.ErrMessageGone, "a claim cannot settle what is gone (M8, C3)")
	require.ErrorIs(f.t, err, store.ErrNotClaimed)
	require.Equal(f.t, before, f.snapshots(q))

	f.now = b.Claim.Expires.Add(-time.Second)
	end, err := f.deleteAndClaim(q, b.Claim.ID, 3, m[4], m[5])
	require.NoError(f.t, err)
	require.True(f.t, end.NextReady.IsZero(), "nothing is left once b's messages are deleted with the call")
	f.counts(q, 0, 0, 0)
}

func testDeleteAndClaimFailedDeleteChangesNothing(f *fixture) {
	q := ref("q")
	m := f.post(q, bodies(4)...)
	a := f.claim(q, 1)
	b := f.claimWith(store.CreateClaimParams{Queue: q, TTL: time.Second, Limit: 1})
	before := f.snapshots(q)

	_, err := f.deleteAndClaim(q, a.Claim.ID, 2, m[0], m[1])
	require.ErrorIs(f.t, err, store.ErrClaimMismatch, "m1 is under another claim")
	require.Equal(f.t, before, f.snapshots(q), "a failed delete claims nothing and deletes nothing")

	_, err = f.s.CreateClaim(f.ctx, store.CreateClaimParams{Queue: q, TTL: claimTTL, Limit: 2, Delete: m[:1], Now: f.now})
	require.ErrorIs(f.t, err, store.ErrInvalid, "a delete needs the claim that holds its messages")
	require.Equal(f.t, before, f.snapshots(q))

	f.now = b.Claim.Expires
	before = f.snapshots(q)
	_, err = f.deleteAndClaim(q, b.Claim.ID, 2, m[1])
	require.ErrorIs(f.t, err, store.ErrNotClaimed, "b expired: m1 is under no claim")
	require.Equal(f.t, before, f.snapshots(q))
	f.requireHeld(q, a.Claim.ID, m[0])
}

// testDeleteAndClaimMovesToDeadLetters runs the delete with a claim that moves
// a message to a dead-letter queue that does not exist yet (C6).
func testDeleteAndClaimMovesToDeadLetters(f *fixture) {
	q, dlq := ref("q"), ref("dlq")
	f.create(q, `{"_max_claim_count":1,"_dead_letter_queue":"dlq"}`)
	m := f.post(q, "m0", "m1")
	a := f.claim(q, 1)
	f.release(q, f.claim(q, 1).Claim.ID, 0) // m1 has been claimed once

	next, err := f.deleteAndClaim(q, a.Claim.ID, 10, m[0])
	require.NoError(f.t, err)
	require.Empty(f.t, next.Messages, "m1 went to the dead-letter queue instead")
	require.Equal(f.t, 1, next.DeadLettered)
	require.Empty(f.t, f.all(q), "m0 deleted, m1 moved")
	require.Len(f.t, f.all(dlq), 1)
}
