package bolt

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// RELIABILITY §9, D6: under steady churn the file stops growing. Each cycle
// posts a backlog and drains it the way workers do (claim 100, delete them
// under the claim); bbolt reuses the freed pages, so after every cycle the
// file is at most 1.1× its size after the first. bbolt grows the file in
// 16 MiB steps, so the test checks the extent bbolt has used too (its
// high-water page, tx.Size), which shows growth the file size hides.
// -short posts 5k per cycle instead of 20k.
func TestFileSizeChurn(t *testing.T) {
	const cycles, batch = 10, 100
	n := 20_000
	if testing.Short() {
		n = 5_000
	}
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Name: "churn"}
	body := make([]byte, 256)
	var first, firstUsed int64
	var sizes, used []int64 // KiB after each cycle
	for c := range cycles {
		now := t0.Add(time.Duration(c) * time.Minute)
		postN(t, s, q, now, n, batch, body)
		for drained := 0; drained < n; {
			res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: batch, Now: now})
			require.NoError(t, err)
			require.NotEmpty(t, res.Messages)
			ids := make([]store.ID, len(res.Messages))
			for i, m := range res.Messages {
				ids[i] = m.ID
			}
			require.NoError(t, s.DeleteMessages(ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: res.Claim.ID, Now: now}))
			drained += len(ids)
		}
		size := fileSize(t, s)
		var inUse int64
		require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error { inUse = tx.Size(); return nil }))
		sizes, used = append(sizes, size>>10), append(used, inUse>>10)
		if c == 0 {
			first, firstUsed = size, inUse
		}
		require.LessOrEqual(t, size, first+first/10, "cycle %d: file %d B, first cycle %d B (KiB per cycle: %v)", c+1, size, first, sizes)
		require.LessOrEqual(t, inUse, firstUsed+firstUsed/10, "cycle %d: bbolt uses %d B, first cycle %d B (KiB per cycle: %v)", c+1, inUse, firstUsed, used)
	}
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Zero(t, st.Total)
	require.NoError(t, s.Verify(ctx))
	t.Logf("%d cycles of %d × 256 B posted and drained; KiB after each cycle: file %v, used by bbolt %v", cycles, n, sizes, used)
}

// RELIABILITY §9: a large backlog lives in the file, not in the Go heap;
// the store keeps nothing per message in memory. HERALD_HEAP_BACKLOG sets
// the backlog (default 1,000,000 messages of 256 B: about 5 s and a
// 450 MiB file on a 2-core VM).
func TestHeapWithBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("posts a 1M-message backlog (about 5 s, a 450 MiB file); HERALD_HEAP_BACKLOG scales it")
	}
	n := 1_000_000
	if env := os.Getenv("HERALD_HEAP_BACKLOG"); env != "" {
		v, err := strconv.Atoi(env)
		require.NoError(t, err, "HERALD_HEAP_BACKLOG=%q: want a positive whole number", env)
		require.Positive(t, v, "HERALD_HEAP_BACKLOG")
		n = v
	}
	const limit = 64 << 20
	s := openTest(t)
	q := store.QueueRef{Name: "backlog"}
	start := time.Now()
	postN(t, s, q, t0, n, 1000, make([]byte, 256))
	took := time.Since(start)
	st, err := s.QueueStats(t.Context(), store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Equal(t, int64(n), st.Total)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d × 256 B posted in %v: file %d MiB, Go heap in use %.1f MiB (alloc %.1f MiB)",
		n, took.Round(time.Millisecond), fileSize(t, s)>>20, float64(ms.HeapInuse)/(1<<20), float64(ms.HeapAlloc)/(1<<20))
	require.LessOrEqual(t, ms.HeapInuse, uint64(limit), "Go heap with a %d-message backlog", n)
}
