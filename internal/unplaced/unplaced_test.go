package unplaced_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/heraldmq/herald/internal/unplaced"
	"github.com/heraldmq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A queue placed nowhere holds nothing: reads find nothing, a plain delete
// deletes nothing, and a settle under a claim fails (M8, C3).
func TestHoldsNothing(t *testing.T) {
	ctx := context.Background()
	q := store.QueueRef{Project: "p", Name: "q"}
	id, claim := store.ID{1}, store.ID{2}
	var s unplaced.Store
	_, err := s.GetQueue(ctx, store.GetQueueParams{Queue: q})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{id}}))
	require.ErrorIs(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{id}, Claim: claim}), store.ErrMessageGone)
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, Limit: 1, TTL: 60e9})
	require.NoError(t, err)
	require.Empty(t, res.Messages)
}
