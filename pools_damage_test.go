package herald_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/bolt"
	"github.com/heraldmq/herald/store"
)

// M11, P1, L1: with pools, a damaged body set aside in a dead-letter
// queue the catalog has nowhere (deleted after the source named it)
// creates that queue in the source's store, as a C6 move does; the
// catalog must then place it there, as it does after a move, or the
// damaged message sits in a queue every call answers as missing: not
// listed, not counted, and not deletable.
func TestPoolsDamagedDeadLetterPlaced(t *testing.T) {
	ctx := t.Context()
	a := boltPool(t, "a", 1)
	log, _ := quietLog()
	svc := newPooled(t, []herald.Pool{a}, func(o *herald.Options) { o.Logger = log })
	jobs, dlq := svc.Queue("jobs"), svc.Queue("dlq")
	_, err := jobs.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{DeadLetterQueue: "dlq"}))
	require.NoError(t, err)
	require.NoError(t, dlq.DeleteQueue(ctx)) // the first set-aside re-creates it
	ids := post(t, jobs, "bad", "good")
	flipBody(t, a.Store.(*bolt.Store), "jobs", ids[0])
	got, err := jobs.Pop(ctx, 2)
	require.NoError(t, err)
	require.Len(t, got, 1)

	ds, err := dlq.Damaged(ctx, herald.DamagedOptions{})
	require.NoError(t, err)
	require.Len(t, ds, 1, "the dead-letter queue's damaged set is reachable")
	require.Equal(t, ids[0], ds[0].ID)
	st, err := dlq.Stats(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Damaged)
	require.Equal(t, "a", poolOf(t, dlq))

	require.NoError(t, dlq.DeleteQueue(ctx))
	left, err := a.Store.(store.DamageKeeper).ListDamaged(ctx, store.ListDamagedParams{Queue: store.QueueRef{Name: "dlq"}, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, left, "deleting the dead-letter queue drops its damaged set")
}
