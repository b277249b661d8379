package bolt

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// A file written before the queue counts (L1) gets them on open, counted
// from its queues; Verify checks them, so a count that drifts is found.
func TestQueueCountsBuiltOnOpen(t *testing.T) {
	s := openAt(t)
	ctx := context.Background()
	now := time.Now()
	for _, q := range []store.QueueRef{{Project: "p", Name: "a"}, {Project: "p", Name: "b"}, {Project: "", Name: "a"}} {
		_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: now})
		require.NoError(t, err)
	}
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bkProjects) }))
	err := s.Verify(ctx)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "projects bucket is missing")

	s = reopenStore(t, s)
	defer s.Close()
	require.NoError(t, s.Verify(ctx))
	quota := store.Quota{QueuesPerProject: 2}
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: store.QueueRef{Project: "p", Name: "c"}, Quota: quota, Now: now})
	require.ErrorIs(t, err, store.ErrTooMany, "the old file's queues are counted")
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: store.QueueRef{Project: "", Name: "b"}, Quota: quota, Now: now})
	require.NoError(t, err)

	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error { return addQueues(tx.Bucket(bkProjects), "p", 1) }))
	err = s.Verify(ctx)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, `project "p": queue count 3, but 2 queues`)
}
