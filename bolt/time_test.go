package bolt

// RELIABILITY §7, time, for what only the bolt store has: a restart after a
// week down, the high-water clock persisted by Close, and the mass-expiry
// figure. The rest of §7 runs on both stores in the root time_test.go.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// M4, C2, C8, B1, B4: the store is closed for 7 days. On reopen with the
// clock a week later, expired messages, claims and dedup entries are gone
// from every read before any sweep, live messages are intact and free,
// stats agree, a Sweep removes exactly the expired items, and Verify
// passes before and after it.
func TestRestartAfterSevenDaysDown(t *testing.T) {
	ctx := context.Background()
	s := openAt(t)
	q := store.QueueRef{Project: "p", Name: "mixed"}
	postTTL := func(body string, ttl, delay time.Duration, dedup string) store.ID {
		ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: t0, Messages: []store.Draft{
			{Body: []byte(body), TTL: ttl, Delay: delay, DedupID: dedup},
		}})
		require.NoError(t, err)
		return ids[0]
	}
	// Live after a week: 14 d and 8 d TTLs; one delayed, one claimed.
	live := []store.ID{
		postTTL("long-0", 14*24*time.Hour, 0, ""),
		postTTL("long-1", 14*24*time.Hour, 0, ""),
		postTTL("long-2", 8*24*time.Hour, 10*time.Minute, ""),
	}
	// Expired after a week: 1 h, 1 min and 6 d 23 h 59 m 59.999999999 s.
	dead := []store.ID{
		postTTL("hour", time.Hour, 0, "dedup-1"),
		postTTL("minute", time.Minute, 0, ""),
		postTTL("almost", 7*24*time.Hour-time.Nanosecond, 0, ""),
	}
	// c1 takes long-0 and long-1 for 12 h; c2 takes hour for a minute (its
	// message is pushed to claim expiry + grace, still long expired).
	c1, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: 12 * time.Hour, Grace: time.Minute, Limit: 2, Now: t0})
	require.NoError(t, err)
	require.Equal(t, live[:2], msgIDs(c1.Messages))
	c2, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Grace: time.Minute, Limit: 1, Now: t0})
	require.NoError(t, err)
	require.Equal(t, dead[:1], msgIDs(c2.Messages))
	require.NoError(t, s.Verify(ctx))

	s = reopenStore(t, s)
	defer s.Close()
	now := t0.Add(7 * 24 * time.Hour)

	check := func() {
		t.Helper()
		got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: append(append([]store.ID{}, dead...), live...), Now: now})
		require.NoError(t, err)
		require.Equal(t, live, msgIDs(got), "get: expired ones gone, live ones kept")
		for i, m := range got {
			require.Equal(t, []byte(fmt.Sprintf("long-%d", i)), m.Body)
			require.True(t, m.ClaimID.IsZero(), "claims of a week ago are over")
		}
		list, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 100, IncludeClaimed: true, IncludeDelayed: true, Now: now})
		require.NoError(t, err)
		require.Equal(t, live, msgIDs(list))
		list, err = s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 100, Now: now})
		require.NoError(t, err)
		require.Equal(t, live, msgIDs(list), "nothing claimed or delayed any more")
		st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: now})
		require.NoError(t, err)
		require.Equal(t, int64(3), st.Total)
		require.Equal(t, int64(3), st.Free)
		require.Zero(t, st.Claimed)
		require.Zero(t, st.Delayed)
		require.Equal(t, live[0], st.Oldest.ID)
		require.Equal(t, live[2], st.Newest.ID)
		for _, c := range []store.ID{c1.Claim.ID, c2.Claim.ID} {
			_, _, err := s.GetClaim(ctx, store.GetClaimParams{Queue: q, Claim: c, Now: now})
			require.ErrorIs(t, err, store.ErrClaimNotFound)
		}
		qs, err := s.ListQueues(ctx, store.ListQueuesParams{Project: "p", Limit: 10})
		require.NoError(t, err)
		require.Len(t, qs, 1)
		require.NoError(t, s.Verify(ctx))
	}
	check() // before any sweep (B4)

	res, err := s.Sweep(ctx, store.SweepParams{Now: now, Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, store.SweepResult{Messages: 3, Claims: 2, Dedup: 1}, res)
	check()
	res, err = s.Sweep(ctx, store.SweepParams{Now: now, Limit: 1000})
	require.NoError(t, err)
	require.Equal(t, store.SweepResult{}, res, "nothing left to sweep")

	// The dedup entry is gone; the live messages are claimable, bodies
	// intact.
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: now, Messages: []store.Draft{{Body: []byte("new"), DedupID: "dedup-1"}}})
	require.NoError(t, err)
	require.NotEqual(t, dead[0], ids[0])
	cr, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 10, Now: now})
	require.NoError(t, err)
	require.Equal(t, append(append([]store.ID{}, live...), ids[0]), msgIDs(cr.Messages))
	require.NoError(t, s.Verify(ctx))
}

func msgIDs(ms []store.Message) []store.ID {
	out := make([]store.ID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// Regression: the high-water clock that reads advanced was lost on Close
// (it was only written with write batches), so after a reopen with the
// clock behind, a message a read had seen expire came back, and a claim a
// read had seen expire held its message again. Close now persists it.
func TestCloseSavesReadClock(t *testing.T) {
	ctx := context.Background()
	s := openAt(t)
	q := store.QueueRef{Name: "q"}
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: t0, Messages: []store.Draft{
		{Body: []byte("short"), TTL: time.Minute}, {Body: []byte("held"), TTL: time.Hour},
	}})
	require.NoError(t, err)
	_, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 2, Now: t0})
	require.NoError(t, err)

	later := t0.Add(5 * time.Minute) // reads only from here on
	got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: ids, Now: later})
	require.NoError(t, err)
	require.Len(t, got, 1, "short expired")
	require.True(t, got[0].ClaimID.IsZero(), "the claim expired")

	s = reopenStore(t, s)
	back := t0.Add(-time.Hour)
	got, err = s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: ids, Now: back})
	require.NoError(t, err)
	require.Equal(t, ids[1:], msgIDs(got), "an expired message does not come back")
	require.True(t, got[0].ClaimID.IsZero(), "an expired claim does not come back")
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: back})
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Free)

	// The saved mark survives another reopen.
	s = reopenStore(t, s)
	require.Equal(t, later.UnixNano(), s.hw.Load())
	require.NoError(t, s.Close())
}

// BenchmarkMassExpiry times sweeping 100,000 expired messages (RELIABILITY
// §7: "100k expiries < 10 s") through Sweep calls of 1,000 items, each one
// fsync'd transaction. It reports seconds per 100k and transactions used.
// HERALD_BENCH_BACKLOG changes the count.
func BenchmarkMassExpiry(b *testing.B) {
	n := envSize(b, 100_000)
	ctx := context.Background()
	var txs int
	for b.Loop() {
		b.StopTimer()
		s, err := Open(b.TempDir()+"/herald.db", nil)
		require.NoError(b, err)
		postTTL(b, s, store.QueueRef{Name: "bulk"}, t0, n, time.Hour)
		now := t0.Add(24 * time.Hour)
		b.StartTimer()
		swept := 0
		for {
			res, err := s.Sweep(ctx, store.SweepParams{Now: now, Limit: 1000})
			require.NoError(b, err)
			txs++
			swept += res.Messages
			if !res.More {
				break
			}
		}
		b.StopTimer()
		require.Equal(b, n, swept)
		require.NoError(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*100_000/float64(n), "s/100k")
	b.ReportMetric(float64(txs)/float64(b.N), "txs")
}

// postTTL posts n 100-byte messages with ttl in batches of 1,000.
func postTTL(tb testing.TB, s *Store, q store.QueueRef, now time.Time, n int, ttl time.Duration) {
	body := make([]byte, 100)
	ds := make([]store.Draft, 0, 1000)
	for done := 0; done < n; done += len(ds) {
		ds = ds[:0]
		for range min(1000, n-done) {
			ds = append(ds, store.Draft{Body: body, TTL: ttl})
		}
		_, err := s.PostMessages(context.Background(), store.PostParams{Queue: q, Messages: ds, Now: now})
		require.NoError(tb, err)
	}
}

// BenchmarkMassExpiryOnWrite times the first claim on a queue whose
// 100,000 messages all expired (a 24 h clock step, no sweep yet): the claim
// applies them before it runs, in catch-up commits of at most 1,000 items
// (B1). Meanwhile another goroutine posts to a second queue one message at
// a time; max-post-ms is the slowest of those posts, which is what a long
// catch-up transaction would stall, and p50-post-ms their median.
// HERALD_BENCH_BACKLOG changes the count.
func BenchmarkMassExpiryOnWrite(b *testing.B) {
	n := envSize(b, 100_000)
	ctx := context.Background()
	var commits uint64
	var lat []time.Duration // of the other goroutine's posts
	for b.Loop() {
		b.StopTimer()
		s, err := Open(b.TempDir()+"/herald.db", nil)
		require.NoError(b, err)
		q := store.QueueRef{Name: "bulk"}
		postTTL(b, s, q, t0, n, time.Hour)
		now := t0.Add(24 * time.Hour)
		post := func() error {
			_, err := s.PostMessages(ctx, store.PostParams{Queue: store.QueueRef{Name: "other"}, Now: now, Messages: []store.Draft{{Body: benchBody}}})
			return err
		}
		require.NoError(b, post()) // the other queue exists before the clock starts
		c0, _ := s.commitStats()
		stop := make(chan struct{})
		var postErr error
		var wg sync.WaitGroup
		b.StartTimer()
		wg.Go(func() {
			for postErr == nil {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				postErr = post()
				lat = append(lat, time.Since(start))
			}
		})
		res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 10, Now: now})
		b.StopTimer()
		close(stop)
		wg.Wait()
		require.NoError(b, postErr)
		require.NoError(b, err)
		require.Empty(b, res.Messages)
		c1, _ := s.commitStats()
		commits += c1 - c0
		require.NoError(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*100_000/float64(n), "s/100k")
	b.ReportMetric(float64(commits)/float64(b.N), "commits")
	b.ReportMetric(float64(slices.Max(lat).Microseconds())/1000, "max-post-ms")
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "p50-post-ms")
}
