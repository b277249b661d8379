package herald_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// M8, C3: a settle through a claim whose queue was deleted fails with
// ErrMessageGone on a Service with pools too, where the deleted queue is
// placed nowhere and no store is asked: Claim.Delete, DeleteAndClaim and a
// Tx of DeleteClaimed alone must not report a settle that never happened.
func TestPoolsSettleAfterQueueDeletedIsGone(t *testing.T) {
	ctx := t.Context()
	svc := newPooled(t, []herald.Pool{memPool("m1", 1)})
	q := svc.Queue("jobs")
	ids := post(t, q, "a")
	c, err := q.Claim(ctx, herald.ClaimOptions{})
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	require.NoError(t, q.DeleteQueue(ctx))

	require.ErrorIs(t, c.Delete(ctx, ids[0]), herald.ErrMessageGone, "Claim.Delete")
	_, err = c.DeleteAndClaim(ctx, herald.ClaimOptions{}, ids[0])
	require.ErrorIs(t, err, herald.ErrMessageGone, "DeleteAndClaim")
	_, err = c.DeleteAndClaim(ctx, herald.ClaimOptions{Wait: time.Second}, ids[0])
	require.ErrorIs(t, err, herald.ErrMessageGone, "DeleteAndClaim with Wait")
	_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
		tx.DeleteClaimed(c, ids[0])
		return nil
	})
	require.ErrorIs(t, err, herald.ErrMessageGone, "Tx.DeleteClaimed")
}
