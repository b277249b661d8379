package memory_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/memory"
	"github.com/heraldmq/herald/store"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryOverhead checks the store's cost per message beyond its body
// (at most 350 B) and that a drained queue gives its memory back.
func TestMemoryOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~60 MB")
	}
	const n, size = 200_000, 16
	s := memory.New()
	defer s.Close()
	q := store.QueueRef{Name: "mem"}
	// Create the queue first so it counts as baseline.
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: t0})
	require.NoError(t, err)
	ids := make([]store.ID, 0, n)
	drafts := make([]store.Draft, 100)
	for i := range drafts {
		drafts[i] = store.Draft{Body: make([]byte, size)}
	}
	base := heap()
	for len(ids) < n {
		got, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: drafts, ClientID: "client", Now: t0})
		require.NoError(t, err)
		ids = append(ids, got...)
	}
	full := heap()
	// ids itself was allocated before base.
	per := float64(full-base)/n - size
	t.Logf("overhead: %.1f B/message beyond a %d B body", per, size)
	require.LessOrEqual(t, per, 350.0)

	// Claim half of them, so claims are part of the picture, then drain.
	for range n / 2 / 20 {
		_, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 20, Now: t0})
		require.NoError(t, err)
	}
	for i := 0; i < n; i += 100 {
		err := s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids[i : i+100], IgnoreClaims: true, Now: t0})
		require.NoError(t, err)
	}
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Zero(t, st.Total)
	// The emptied claims live on until they expire; a sweep then drops them.
	_, err = s.Sweep(ctx, store.SweepParams{Now: t0.Add(time.Hour), Limit: n})
	require.NoError(t, err)
	drained := heap()
	t.Logf("heap: base %d, full %d, drained %d", base, full, drained)
	require.Less(t, int64(drained)-int64(base), int64(256<<10), "memory given back after a drain")
	runtime.KeepAlive(ids)
}
