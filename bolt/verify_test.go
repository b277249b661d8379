package bolt

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// Verify passes on a store in every state a message can be in, and names
// the damage when one index entry goes missing.
func TestVerify(t *testing.T) {
	s := openAt(t)
	ctx := context.Background()
	q := store.QueueRef{Project: "p", Name: "q"}
	now := time.Now()
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: now, Messages: []store.Draft{
		{Body: []byte("claimed: the oldest"), DedupID: "d1"}, {Body: []byte("free")}, {Body: []byte("delayed"), Delay: time.Minute},
	}})
	require.NoError(t, err)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: now})
	require.NoError(t, err)
	require.NoError(t, s.Verify(ctx))

	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		ready := tx.Bucket(bkQueues).Bucket(queueKey(q)).Bucket(bkReady)
		require.Equal(t, 1, ready.Stats().KeyN)
		k, _ := ready.Cursor().First()
		require.Equal(t, ids[1][:], k, "the free message")
		return ready.Delete(k)
	}))
	err = s.Verify(ctx)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "free message")
}

// The indexes agree with the records after partial releases (C5) and
// transactions (X1), committed and refused: claimmsgs, the claims' held
// counts and the queue counters follow each message that leaves a claim.
func TestVerifyAfterReleaseSomeAndTransact(t *testing.T) {
	s := openAt(t)
	defer s.Close()
	ctx := context.Background()
	in, out := store.QueueRef{Project: "p", Name: "in"}, store.QueueRef{Project: "p", Name: "out"}
	now := time.Now()
	drafts := make([]store.Draft, 6)
	for i := range drafts {
		drafts[i] = store.Draft{Body: []byte{byte('a' + i)}}
	}
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: in, Messages: drafts, Now: now})
	require.NoError(t, err)
	c, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: in, TTL: time.Minute, Limit: 6, Now: now})
	require.NoError(t, err)
	cid := c.Claim.ID

	release := func(delay time.Duration, ids ...store.ID) {
		t.Helper()
		require.NoError(t, s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: in, Claim: cid, Delay: delay, IDs: ids, Now: now}))
		require.NoError(t, s.Verify(ctx))
	}
	release(0, ids[0], ids[0], store.ID{1})
	release(time.Minute, ids[1])

	// Refused: the second delete names a message the claim no longer
	// holds. Committed: the claim's messages move to out.
	tr := store.Transactor(s)
	_, err = tr.Transact(ctx, store.TxParams{Now: now, Ops: []store.TxOp{
		{Queue: in, Delete: ids[2:3], Claim: cid},
		{Queue: in, Delete: ids[1:2], Claim: cid},
	}})
	require.ErrorIs(t, err, store.ErrNotClaimed)
	require.NoError(t, s.Verify(ctx))
	_, err = tr.Transact(ctx, store.TxParams{Now: now, Ops: []store.TxOp{
		{Queue: in, Delete: ids[2:4], Claim: cid},
		{Queue: out, Post: drafts[2:4]},
	}})
	require.NoError(t, err)
	require.NoError(t, s.Verify(ctx))

	release(0, ids[4:]...) // the last two: the claim ends
	_, _, err = s.GetClaim(ctx, store.GetClaimParams{Queue: in, Claim: cid, Now: now})
	require.ErrorIs(t, err, store.ErrClaimNotFound)
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: in, Now: now})
	require.NoError(t, err)
	require.Equal(t, store.Stats{Free: 3, Delayed: 1, Total: 4}, store.Stats{Free: st.Free, Claimed: st.Claimed, Delayed: st.Delayed, Total: st.Total})
}
