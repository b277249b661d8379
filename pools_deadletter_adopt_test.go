package herald_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

// C6, P1: a claim whose store step moved messages to a dead-letter queue
// the catalog has nowhere records that queue's pool even when the
// claim's ctx ends just after the store step: the move is committed, so
// the catalog must follow, else the dead letters sit in a queue that
// every read answers as missing.
func TestPoolsDeadLetterAdoptedAfterCtxEnds(t *testing.T) {
	ctx := t.Context()
	st := &claimCounter{Store: memory.New()}
	svc := newPooled(t, []herald.Pool{{Name: "p", Store: st, Weight: 1}}, func(o *herald.Options) {
		o.Catalog = memory.New()
		o.Logger, _ = quietLog()
	})
	jobs, dead := svc.Queue("jobs"), svc.Queue("dead")
	_, err := jobs.Create(ctx, herald.Metadata{}.WithOptions(herald.QueueOptions{MaxClaimCount: 1, DeadLetterQueue: "dead"}))
	require.NoError(t, err)
	require.NoError(t, dead.DeleteQueue(ctx)) // the first move re-creates it (see colocate)
	post(t, jobs, "job")
	c, err := jobs.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Release(ctx, 0))

	cctx, cancel := context.WithCancel(ctx)
	st.after = func(_ context.Context, r store.ClaimResult) {
		if r.DeadLettered > 0 {
			cancel() // the caller gives up just as the move commits
		}
	}
	c, err = jobs.Claim(cctx, herald.ClaimOptions{TTL: time.Minute})
	st.after = nil
	require.NoError(t, err)
	require.Empty(t, c.Messages)

	got, err := dead.List(ctx, herald.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"job"}, bodies(got), "the dead letter is readable")
}
