package bolt

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// A transaction whose queues are both behind: the delete needs its
// queue's whole state, so Transact is rolled back and retried after
// bounded catch-up commits (B1); the post only adds to its queue and
// applies what the budget allows. No commit applies more than
// catchUpBatch due items, and the transaction lands whole (X1).
func TestCatchUpTransactBehind(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	in, out := store.QueueRef{Name: "in"}, store.QueueRef{Name: "out"}
	job := post(t, s, in, t0, "job")
	c, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: in, TTL: time.Hour, Limit: 1, Now: t0})
	require.NoError(t, err)
	const nin, nout = 2500, 3000
	postTTL(t, s, in, t0, nin, time.Minute)
	postTTL(t, s, out, t0, nout, time.Minute)
	later := t0.Add(10 * time.Minute)
	log := logDue(s)

	got, err := s.Transact(ctx, store.TxParams{Now: later, Ops: []store.TxOp{
		{Queue: in, Delete: job, Claim: c.Claim.ID},
		{Queue: out, Post: []store.Draft{{Body: []byte("result")}}},
	}})
	require.NoError(t, err)
	_, sum := log.take(t) // asserts each commit stayed within catchUpBatch
	require.Equal(t, nin+catchUpBatch, sum, "in caught up whole, out by one budget")
	requireSettled(t, s, in, later)

	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: in, Now: later})
	require.NoError(t, err)
	require.Equal(t, store.Stats{}, st)
	ms, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: out, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Equal(t, got[1], msgIDs(ms))
	require.NoError(t, s.Verify(ctx))
}
