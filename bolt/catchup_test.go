package bolt

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// B1 regression: a write to a queue far behind (here 5,000 expiries after
// a clock step) used to apply all of it in its own transaction, stalling
// every writer sharing or waiting for that commit. Now no transaction
// applies more than catchUpBatch due items.

// dueLog records, per committed transaction, how many due items its ops
// applied (the committer's dueHook).
type dueLog struct {
	mu  sync.Mutex
	txs []int
}

func logDue(s *Store) *dueLog {
	l := &dueLog{}
	s.commit.dueHook = func(n int) {
		l.mu.Lock()
		l.txs = append(l.txs, n)
		l.mu.Unlock()
	}
	return l
}

// take returns the transactions logged since the last take, asserting
// that each stayed within catchUpBatch, and their sum.
func (l *dueLog) take(t *testing.T) (txs []int, sum int) {
	t.Helper()
	l.mu.Lock()
	txs, l.txs = l.txs, nil
	l.mu.Unlock()
	for i, n := range txs {
		require.LessOrEqual(t, n, catchUpBatch, "transaction %d applied more than catchUpBatch", i)
		sum += n
	}
	return txs, sum
}

func catchUps(s *Store) uint64 {
	s.commit.mu.Lock()
	defer s.commit.mu.Unlock()
	return s.commit.catchUps
}

// requireSettled asserts that queue ref has nothing due at now left
// unapplied.
func requireSettled(t *testing.T, s *Store, ref store.QueueRef, now time.Time) {
	t.Helper()
	require.NoError(t, s.view(func(tx *bbolt.Tx) error {
		q, err := readQueue(tx, ref)
		require.NoError(t, err)
		require.NotNil(t, q)
		require.Greater(t, min(q.due(), firstTime(q.dedupExp)), now.UnixNano(), "nothing due left")
		return nil
	}))
}

func TestCatchUpBounded(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	const n = 5000
	postTTL(t, s, q, t0, n, time.Minute)
	keep, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: t0, Messages: []store.Draft{{Body: []byte("keep"), TTL: time.Hour}}})
	require.NoError(t, err)
	dup, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: t0, DedupWindow: time.Minute, Messages: []store.Draft{{Body: []byte("dup"), TTL: time.Minute, DedupID: "d"}}})
	require.NoError(t, err)
	// Due at later: n+1 message expiries and one dedup entry.
	later := t0.Add(10 * time.Minute)
	log := logDue(s)
	c0, o0 := s.commitStats()

	// A post only adds to the queue: it applies one budget's worth in its
	// own commit and goes on, reading the expired dedup entry as expired.
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Now: later, Messages: []store.Draft{{Body: []byte("new"), DedupID: "d"}}})
	require.NoError(t, err)
	require.NotEqual(t, dup[0], ids[0], "the dedup entry expired with its window")
	c1, o1 := s.commitStats()
	require.Equal(t, uint64(1), c1-c0, "the post commits once")
	require.Equal(t, uint64(1), o1-o0)
	txs, sum := log.take(t)
	require.Equal(t, []int{catchUpBatch}, txs)
	require.Equal(t, catchUpBatch, sum)

	// Reads see the exact state whatever is left unapplied (B4).
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: later})
	require.NoError(t, err)
	require.Equal(t, int64(2), st.Total)
	require.Equal(t, int64(2), st.Free)
	require.Equal(t, keep[0], st.Oldest.ID)
	require.Equal(t, ids[0], st.Newest.ID)
	require.NoError(t, s.Verify(ctx))

	// A claim needs the queue's whole state: it catches the queue up in
	// commits of its own, then claims in one more.
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Equal(t, []store.ID{keep[0], ids[0]}, msgIDs(res.Messages))
	c2, o2 := s.commitStats()
	txs, sum = log.take(t)
	left := n + 1 - catchUpBatch // and the dedup entry, which the post removed
	require.Equal(t, left, sum, "every due item applied once")
	require.GreaterOrEqual(t, c2-c1, uint64(left/catchUpBatch+1), "catch-up commits and the claim's")
	require.Equal(t, c2-c1, uint64(len(txs)))
	require.Equal(t, o2-o1, c2-c1, "one op per commit: catch-ups, then the claim")
	require.Equal(t, c2-c1-1, catchUps(s))
	require.Zero(t, txs[len(txs)-1], "the claim itself found nothing due")

	st, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: later})
	require.NoError(t, err)
	require.Equal(t, store.Stats{Claimed: 2, Total: 2, Oldest: st.Oldest, Newest: st.Newest}, st)
	got, err := s.GetMessages(ctx, store.GetMessagesParams{Queue: q, IDs: append(dup, keep[0]), Now: later})
	require.NoError(t, err)
	require.Equal(t, keep, msgIDs(got), "expired gone, live kept")
	requireSettled(t, s, q, later)
	require.NoError(t, s.Verify(ctx))
}

// A claim whose queue and dead-letter queue are both behind: the queue is
// caught up in bounded commits; the dead-letter move only adds to its
// queue, so that one is left behind beyond the claim's budget, and reads
// and later writes still see it exactly.
func TestCatchUpDeadLetterBehind(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	src, dlq := store.QueueRef{Name: "src"}, store.QueueRef{Name: "dlq"}
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: src, Now: t0,
		Metadata: json.RawMessage(`{"_max_claim_count": 1, "_dead_letter_queue": "dlq"}`)})
	require.NoError(t, err)
	poison := post(t, s, src, t0, "poison")
	first, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: src, TTL: time.Minute, Limit: 1, Now: t0})
	require.NoError(t, err)
	require.Equal(t, poison, msgIDs(first.Messages))
	const nsrc, ndlq = 2500, 3000
	postTTL(t, s, src, t0, nsrc, time.Minute)
	postTTL(t, s, dlq, t0, ndlq, time.Minute)
	later := t0.Add(10 * time.Minute)
	log := logDue(s)
	c0, _ := s.commitStats()

	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: src, TTL: time.Minute, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Empty(t, res.Messages)
	require.Equal(t, 1, res.DeadLettered)
	require.Equal(t, "dlq", res.DeadLetterQueue)
	c1, _ := s.commitStats()
	txs, sum := log.take(t)
	// src: nsrc expiries and the first claim's end; dlq: one budget.
	require.Equal(t, nsrc+1+catchUpBatch, sum)
	require.GreaterOrEqual(t, c1-c0, uint64((nsrc+1)/catchUpBatch+2))
	require.Equal(t, c1-c0, uint64(len(txs)))
	requireSettled(t, s, src, later)

	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: src, Now: later})
	require.NoError(t, err)
	require.Equal(t, store.Stats{}, st)
	st, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: dlq, Now: later})
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Total)
	require.Equal(t, int64(1), st.Free)
	list, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: dlq, Limit: 10, IncludeClaimed: true, IncludeDelayed: true, Now: later})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, []byte("poison"), list[0].Body)
	require.Zero(t, list[0].ClaimCount)
	require.NoError(t, s.Verify(ctx))

	// A claim on the dead-letter queue catches up the rest, bounded.
	res, err = s.CreateClaim(ctx, store.CreateClaimParams{Queue: dlq, TTL: time.Minute, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Equal(t, []store.ID{list[0].ID}, msgIDs(res.Messages))
	_, sum = log.take(t)
	require.Equal(t, ndlq-catchUpBatch, sum)
	requireSettled(t, s, dlq, later)
	require.NoError(t, s.Verify(ctx))
}

// behindQueue makes queue q, with n messages that are expired at the
// returned time.
func behindQueue(t *testing.T, s *Store, q store.QueueRef, n int) time.Time {
	postTTL(t, s, q, t0, n, time.Minute)
	return t0.Add(10 * time.Minute)
}

// Between catch-up commits a cancelled ctx or a Close ends the call with
// its error, having changed nothing the caller asked for.
func TestCatchUpCancelAndClose(t *testing.T) {
	ctx := context.Background()
	t.Run("cancel", func(t *testing.T) {
		s := openTest(t)
		q := store.QueueRef{Name: "q"}
		later := behindQueue(t, s, q, 3000)
		live := post(t, s, q, later, "live")
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		s.commit.dueHook = func(n int) {
			if n > 0 {
				cancel()
			}
		}
		_, err := s.CreateClaim(cctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 10, Now: later})
		require.ErrorIs(t, err, context.Canceled)
		s.commit.dueHook = nil
		list, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 10, Now: later})
		require.NoError(t, err)
		require.Equal(t, live, msgIDs(list), "not claimed")
		require.NoError(t, s.Verify(ctx))
	})
	t.Run("close", func(t *testing.T) {
		s := openTest(t)
		q := store.QueueRef{Name: "q"}
		later := behindQueue(t, s, q, 3000)
		post(t, s, q, later, "live")
		closed := false
		s.commit.dueHook = func(n int) {
			if n > 0 && !closed {
				closed = true
				require.NoError(t, s.Close())
			}
		}
		err := s.ReleaseClaim(ctx, store.ReleaseClaimParams{Queue: q, Claim: store.ID{1}, Now: later})
		require.ErrorIs(t, err, store.ErrClosed)
		require.True(t, closed)
	})
}

// A queue deleted between catch-up commits: the catch-up stops, and the op
// runs again and finds no queue.
func TestCatchUpQueueDeleted(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	q := store.QueueRef{Name: "q"}
	later := behindQueue(t, s, q, 3000)
	post(t, s, q, later, "live")
	var wg sync.WaitGroup
	defer wg.Wait()
	var delErr error
	started := false
	s.commit.dueHook = func(n int) {
		if n == 0 || started {
			return
		}
		started = true
		// The hook runs in the commit leader: queue the delete behind it.
		wg.Go(func() { delErr = s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: q}) })
		for {
			s.commit.mu.Lock()
			k := len(s.commit.pending)
			s.commit.mu.Unlock()
			if k > 0 {
				return
			}
			runtime.Gosched()
		}
	}
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Empty(t, res.Messages)
	wg.Wait()
	require.NoError(t, delErr)
	require.True(t, started)
	_, err = s.GetQueue(ctx, store.GetQueueParams{Queue: q})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.Verify(ctx))
}

// Many writers on a queue that is behind, and on another queue, at once:
// all succeed with exact results, and no transaction applies more than
// catchUpBatch due items, however the ops share commits.
func TestCatchUpConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	q, other := store.QueueRef{Name: "q"}, store.QueueRef{Name: "other"}
	live := make([]store.ID, 0, 16)
	for range 16 {
		live = append(live, post(t, s, q, t0, "live")...) // a 1 h TTL
	}
	later := behindQueue(t, s, q, 4000)
	log := logDue(s)
	var wg sync.WaitGroup
	claimed := make([][]store.ID, 8)
	errs := make([]error, 16)
	for i := range 8 {
		wg.Go(func() {
			res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 2, Now: later})
			claimed[i], errs[i] = msgIDs(res.Messages), err
		})
		wg.Go(func() {
			_, errs[8+i] = s.PostMessages(ctx, store.PostParams{Queue: other, Now: later, Messages: []store.Draft{{Body: []byte("x")}}})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var all []store.ID
	for _, ids := range claimed {
		require.Len(t, ids, 2)
		all = append(all, ids...)
	}
	require.ElementsMatch(t, live, all, "each live message claimed once")
	_, sum := log.take(t)
	require.Equal(t, 4000, sum)
	requireSettled(t, s, q, later)
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: other, Now: later})
	require.NoError(t, err)
	require.Equal(t, int64(8), st.Total)
	require.NoError(t, s.Verify(ctx))
}
