package herald_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// TestForceDeleteIgnoresClaims: ForceDelete removes claimed and free
// messages alike, skips missing ones, and the claim loses what it held.
func TestForceDeleteIgnoresClaims(t *testing.T) {
	ctx := context.Background()
	q := newService(t).Queue("q")
	ids := post(t, q, "a", "b")
	c, err := q.Claim(ctx, herald.ClaimOptions{Limit: 1})
	require.NoError(t, err)
	require.Len(t, c.Messages, 1)
	require.ErrorIs(t, q.Delete(ctx, ids...), herald.ErrClaimMismatch)

	missing := ids[0]
	missing[15]++
	require.NoError(t, q.ForceDelete(ctx, append(ids, missing)...))
	got, err := q.GetMany(ctx, ids...)
	require.NoError(t, err)
	require.Empty(t, got)
	_, err = q.GetClaim(ctx, c.ID)
	require.ErrorIs(t, err, herald.ErrClaimNotFound)
}
