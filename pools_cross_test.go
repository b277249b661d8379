package herald_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// twoPools returns a Service with pools a and b and a function that
// places a new queue on the named pool (by setting the weights).
func twoPools(t *testing.T) (*herald.Service, func(q *herald.Queue, pool string, m herald.Metadata)) {
	svc := newPooled(t, []herald.Pool{memPool("a", 1), memPool("b", 1)})
	return svc, func(q *herald.Queue, pool string, m herald.Metadata) {
		t.Helper()
		ctx := context.Background()
		other := map[string]string{"a": "b", "b": "a"}[pool]
		require.NoError(t, svc.SetPoolWeight(ctx, pool, 1))
		require.NoError(t, svc.SetPoolWeight(ctx, other, 0))
		_, err := q.Create(ctx, m)
		require.NoError(t, err)
		require.Equal(t, pool, poolOf(t, q))
	}
}

// P5, X1: a transaction over queues on two pools gives ErrCrossPool and
// changes nothing; a queue a transaction creates joins its other queues'
// pool, whatever the weights say.
func TestTxCrossPool(t *testing.T) {
	ctx := t.Context()
	svc, placeOn := twoPools(t)
	qa, qb := svc.Queue("qa"), svc.Queue("qb")
	placeOn(qa, "a", nil)
	placeOn(qb, "b", nil)
	ids := post(t, qb, "in b")

	_, err := svc.Tx(ctx, func(tx *herald.Tx) error {
		tx.Post(qa, herald.Draft{Body: []byte("to a")})
		tx.Delete(qb, ids...)
		return nil
	})
	require.ErrorIs(t, err, herald.ErrCrossPool)
	require.Contains(t, err.Error(), "op 1")
	require.Zero(t, total(t, qa), "nothing posted")
	require.EqualValues(t, 1, total(t, qb), "nothing deleted")

	// b now has weight 0; a new queue in a transaction with qb joins b.
	fresh := svc.Queue("fresh")
	_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
		tx.Post(fresh, herald.Draft{Body: []byte("moved")})
		tx.Delete(qb, ids...)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "b", poolOf(t, fresh))
	require.EqualValues(t, 1, total(t, fresh))
	require.Zero(t, total(t, qb))
}

// P5, C6: a dead-letter queue lives on its source's pool. Naming one on
// another pool gives ErrCrossPool; naming a missing one creates it on the
// source's pool; a source created with a dead-letter queue joins its
// pool.
func TestDeadLetterQueueStaysOnItsPool(t *testing.T) {
	ctx := t.Context()
	svc, placeOn := twoPools(t)
	src, dlqB := svc.Queue("src"), svc.Queue("dlq-b")
	placeOn(src, "a", nil)
	placeOn(dlqB, "b", nil)

	withDLQ := func(name string) herald.Metadata {
		return herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 1, DeadLetterQueue: name})
	}
	require.ErrorIs(t, src.SetMetadata(ctx, withDLQ("dlq-b")), herald.ErrCrossPool)
	require.ErrorIs(t, src.UpdateMetadata(ctx, func(herald.Metadata) (herald.Metadata, error) {
		return withDLQ("dlq-b"), nil
	}), herald.ErrCrossPool)
	o, err := src.Options(ctx)
	require.NoError(t, err)
	require.Empty(t, o.DeadLetterQueue, "nothing changed")

	// A missing dead-letter queue is created on the source's pool (b has
	// all the weight now).
	require.NoError(t, src.SetMetadata(ctx, withDLQ("dlq-a")))
	require.Equal(t, "a", poolOf(t, svc.Queue("dlq-a")))

	// A new queue whose dead-letter queue is on b goes to b, whatever the
	// weights say.
	require.NoError(t, svc.SetPoolWeight(ctx, "a", 1))
	require.NoError(t, svc.SetPoolWeight(ctx, "b", 0))
	src2 := svc.Queue("src2")
	_, err = src2.Create(ctx, withDLQ("dlq-b"))
	require.NoError(t, err)
	require.Equal(t, "b", poolOf(t, src2))

	// The move itself: claimed once, the message goes to dlq-a on a.
	post(t, src, "poison")
	c, err := src.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.NoError(t, c.Release(ctx, 0))
	c, err = src.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.Empty(t, c.Messages)
	dead, err := svc.Queue("dlq-a").List(ctx, herald.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"poison"}, bodies(dead))
}

// C6: a dead-letter queue deleted and then re-created by a claim's move
// is recorded on the source's pool, not left out of the catalog.
func TestDeadLetterMoveRecordsTheQueue(t *testing.T) {
	ctx := t.Context()
	svc, placeOn := twoPools(t)
	src := svc.Queue("src")
	placeOn(src, "a", herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 1, DeadLetterQueue: "dead"}))
	dead := svc.Queue("dead")
	require.Equal(t, "a", poolOf(t, dead))
	require.NoError(t, dead.DeleteQueue(ctx))
	_, err := dead.Pool(ctx)
	require.ErrorIs(t, err, herald.ErrNotFound)

	post(t, src, "poison")
	c, err := src.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.NoError(t, c.Release(ctx, 0))
	_, err = src.Claim(ctx, herald.ClaimOptions{Limit: 1}) // moves it
	require.NoError(t, err)
	require.Equal(t, "a", poolOf(t, dead), "the move's queue is in the catalog")
	msgs, err := dead.List(ctx, herald.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"poison"}, bodies(msgs))
	names, err := svc.Project("").ListQueues(ctx, herald.ListQueuesOptions{})
	require.NoError(t, err)
	require.Len(t, names, 2)
}

// P5 through Consume: when a handler gives up on a message whose
// dead-letter queue is on another pool, the transaction fails with
// ErrCrossPool; the failure is logged and the message is not lost.
func TestConsumePermanentAcrossPools(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		svc, placeOn := twoPools(t)
		src := svc.Queue("src")
		placeOn(src, "a", herald.Metadata{}.WithOptions(herald.QueueOptions{DeadLetterQueue: "dead"}))
		// Strand the dead-letter queue on b: delete it, then post to it
		// with all the weight on b.
		dead := svc.Queue("dead")
		require.NoError(t, dead.DeleteQueue(ctx))
		require.NoError(t, svc.SetPoolWeight(ctx, "a", 0))
		require.NoError(t, svc.SetPoolWeight(ctx, "b", 1))
		post(t, dead, "other")
		require.Equal(t, "b", poolOf(t, dead))
		post(t, src, "poison")

		log, buf := quietLog()
		cctx, cancel := context.WithCancel(ctx)
		done := consumeAsync(cctx, src, func(context.Context, herald.Message) error {
			return herald.Permanent(errors.New("cannot parse"))
		}, herald.ConsumeOptions{Logger: log, LeaseTTL: time.Minute})
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)
		require.Contains(t, buf.String(), "could not give up on a message")
		require.Contains(t, buf.String(), "of op 0 on pool", "the log says why: the pools differ")
		msgs, err := src.List(ctx, herald.ListOptions{IncludeClaimed: true})
		require.NoError(t, err)
		require.Equal(t, []string{"poison"}, bodies(msgs), "not lost")
		require.EqualValues(t, 1, total(t, dead), "nothing was dead-lettered")
	})
}

// X1 with pools: a transaction that only deletes from queues that do not
// exist deletes nothing and succeeds, as on one store.
func TestTxOnMissingQueues(t *testing.T) {
	svc, _ := twoPools(t)
	id, err := herald.ParseID("01ARZ3NDEKTSV4RRFFQ69G5FAV")
	require.NoError(t, err)
	_, err = svc.Tx(t.Context(), func(tx *herald.Tx) error {
		tx.Delete(svc.Queue("nope"), id)
		return nil
	})
	require.NoError(t, err)
}
