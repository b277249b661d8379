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

// A file written before the per-project due index (L3) gets it on open,
// filled from the due index; Verify checks it, and a fair lease finds
// every project's deliveries.
func TestDueProjBuiltOnOpen(t *testing.T) {
	s := openAt(t)
	ctx := context.Background()
	now := time.Now()
	for _, p := range []string{"a", "b", ""} {
		q := store.QueueRef{Project: p, Name: "q"}
		_, _, err := s.CreateSubscription(ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: "http://hook/" + p, TTL: time.Hour, Confirmed: true, Now: now})
		require.NoError(t, err)
		_, err = s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("1")}, {Body: []byte("2")}}, Now: now})
		require.NoError(t, err)
	}
	require.NoError(t, s.Verify(ctx))
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bkDueProj) }))
	err := s.Verify(ctx)
	require.ErrorIs(t, err, store.ErrCorrupt)

	s = reopenStore(t, s)
	defer s.Close()
	require.NoError(t, s.Verify(ctx))
	ds, _, err := s.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: time.Minute, PerProject: 1, Now: now})
	require.NoError(t, err)
	var got []string
	for _, d := range ds {
		got = append(got, d.Queue.Project)
	}
	require.Equal(t, []string{"", "a", "b"}, got)
	require.NoError(t, s.Verify(ctx), "after a fair lease")
}

// L1, L3, D4: the queue counts and the per-project due index are kept
// by every write, so a herald that does not know them (schema 1) must
// not write the file: it would post and create queues behind them, and
// after the upgrade back the counts would be wrong (Verify fails) and
// the fair lease would never hand out the deliveries it posted. So the
// file says schema 2, which such a herald refuses; and a schema-1 file,
// which one may have written, gets both rebuilt from scratch on open.
func TestSchema1FileRebuiltAndMarked(t *testing.T) {
	s := openAt(t)
	ctx := context.Background()
	now := time.Now()
	q := store.QueueRef{Project: "p", Name: "q"}
	_, _, err := s.CreateSubscription(ctx, store.CreateSubscriptionParams{Queue: q, Subscriber: "http://hook", TTL: time.Hour, Confirmed: true, Now: now})
	require.NoError(t, err)
	schema := func() int64 {
		var v int64
		require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error {
			v, _ = bytesInt64(tx.Bucket(bkHerald).Get(keySchema))
			return nil
		}))
		return v
	}
	require.Greater(t, schema(), int64(1), "a herald of schema 1 refuses the file")

	// What a schema-1 herald leaves: a queue and a pending delivery
	// that the counts and the due index of the projects do not know.
	_, err = s.PostMessages(ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: now})
	require.NoError(t, err)
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bkHerald).Put(keySchema, int64Bytes(1)); err != nil {
			return err
		}
		if err := addQueues(tx.Bucket(bkProjects), "p", -1); err != nil {
			return err
		}
		if err := tx.DeleteBucket(bkDueProj); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bkDueProj)
		return err
	}))
	require.ErrorIs(t, s.Verify(ctx), store.ErrCorrupt)

	s = reopenStore(t, s)
	defer s.Close()
	require.Greater(t, schema(), int64(1))
	require.NoError(t, s.Verify(ctx))
	ds, _, err := s.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: time.Minute, PerProject: 5, Now: now})
	require.NoError(t, err)
	require.Len(t, ds, 1, "the fair lease finds the delivery posted behind the index")
}
