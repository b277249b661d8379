package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// A transaction whose queues are both behind catches them up in bounded
// steps (B1) before it holds their locks together, then applies its ops as
// it would have (X1).
func TestCatchUpTransactBehind(t *testing.T) {
	ctx := context.Background()
	s := New()
	in, out := store.QueueRef{Name: "in"}, store.QueueRef{Name: "out"}
	job := postN(t, s, in, t0, 1, time.Hour)
	c, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: in, TTL: time.Hour, Limit: 1, Now: t0})
	require.NoError(t, err)
	const nin, nout = 2500, 3000
	postN(t, s, in, t0, nin, time.Minute)
	postN(t, s, out, t0, nout, time.Minute)
	later := t0.Add(10 * time.Minute)
	li, lo := &stepLog{}, &stepLog{}
	s.queues[in].betweenSteps = li.hook(s.queues[in], nil)
	s.queues[out].betweenSteps = lo.hook(s.queues[out], nil)

	got, err := s.Transact(ctx, store.TxParams{Now: later, Ops: []store.TxOp{
		{Queue: in, Delete: job, Claim: c.Claim.ID},
		{Queue: out, Post: []store.Draft{{Body: []byte("result")}}},
	}})
	require.NoError(t, err)
	li.requireBounded(t, nin+1)
	lo.requireBounded(t, nout)
	require.NotEmpty(t, li.totals)
	require.NotEmpty(t, lo.totals)

	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: in, Now: later})
	require.NoError(t, err)
	require.Equal(t, store.Stats{}, st)
	ms, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: out, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, got[1], []store.ID{ms[0].ID})
}
