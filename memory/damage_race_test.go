package memory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// TestDamagedSetDiesWithItsQueue races setting damaged bodies aside into
// a dead-letter queue's set against deleting that queue. A queue that is
// gone must leave no damaged set behind: otherwise a queue created later
// under the name would show damage it never had (M11, Q6).
func TestDamagedSetDiesWithItsQueue(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	src := store.QueueRef{Project: "p", Name: "src"}
	dlq := store.QueueRef{Project: "p", Name: "dlq"}
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	for round := range rounds {
		s := New()
		_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: src, Metadata: []byte(`{"_dead_letter_queue":"dlq"}`), Now: now})
		require.NoError(t, err)
		const n = 8
		var ids []store.ID
		for range n {
			got, err := s.PostMessages(ctx, store.PostParams{Queue: src, Messages: []store.Draft{{Body: []byte("x")}}, Now: now})
			require.NoError(t, err)
			ids = append(ids, got...)
		}
		for _, id := range ids {
			corrupt(t, s, src, id)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for range n { // each claim meets one damaged body and sets it aside in dlq
				_, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: src, TTL: time.Minute, Limit: 1, Now: now})
				require.NoError(t, err)
			}
		})
		wg.Go(func() {
			for range n {
				require.NoError(t, s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: dlq}))
			}
		})
		wg.Wait()
		_, err = s.GetQueue(ctx, store.GetQueueParams{Queue: dlq})
		if errors.Is(err, store.ErrNotFound) {
			left, err := s.ListDamaged(ctx, store.ListDamagedParams{Queue: dlq, Limit: 100})
			require.NoError(t, err)
			require.Empty(t, left, "round %d: a deleted queue kept a damaged set", round)
		}
		require.NoError(t, s.Close())
	}
}
