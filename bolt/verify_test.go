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
