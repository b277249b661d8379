package memory

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// B1 regression: a call on a queue far behind (here 5,000 expiries after a
// clock step) used to apply all of it under the queue's lock, holding up
// every other caller of the queue. Now it applies at most catchUpBatch
// items per hold of the lock, and others get in between.

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// postN posts n messages with ttl at now, in batches of 1,000.
func postN(t *testing.T, s *Store, q store.QueueRef, now time.Time, n int, ttl time.Duration) []store.ID {
	t.Helper()
	var ids []store.ID
	for done := 0; done < n; {
		ds := make([]store.Draft, min(1000, n-done))
		for i := range ds {
			ds[i] = store.Draft{Body: []byte("x"), TTL: ttl}
		}
		got, err := s.PostMessages(context.Background(), store.PostParams{Queue: q, Messages: ds, Now: now})
		require.NoError(t, err)
		ids = append(ids, got...)
		done += len(ds)
	}
	return ids
}

// stepLog records, at each release of a queue's lock between catch-up
// steps, how many messages the queue still stores.
type stepLog struct {
	mu     sync.Mutex
	totals []int64
}

func (l *stepLog) hook(q *queue, also func(step int)) func() {
	return func() {
		q.mu.Lock() // free: lockAt released it
		total := q.total
		q.mu.Unlock()
		l.mu.Lock()
		l.totals = append(l.totals, total)
		step := len(l.totals)
		l.mu.Unlock()
		if also != nil {
			also(step)
		}
	}
}

// requireBounded asserts that each step (of this queue or, in a claim, its
// pair) removed at most catchUpBatch messages, starting from start.
func (l *stepLog) requireBounded(t *testing.T, start int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := start
	for i, total := range l.totals {
		require.LessOrEqual(t, prev-total, int64(catchUpBatch), "step %d", i)
		prev = total
	}
}

func TestCatchUpReleasesLock(t *testing.T) {
	ctx := context.Background()
	s := New()
	ref := store.QueueRef{Name: "q"}
	const n = 5000
	keep := postN(t, s, ref, t0, 1, time.Hour)
	postN(t, s, ref, t0, n, time.Minute)
	later := t0.Add(10 * time.Minute)
	q := s.queues[ref]

	// At the first release, another caller posts to the same queue and
	// completes: the lock is free between steps. Its own post catches up
	// the rest (its steps call the hook too).
	var other []store.ID
	var otherErr error
	l := &stepLog{}
	q.betweenSteps = l.hook(q, func(step int) {
		if step != 1 {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			other, otherErr = s.PostMessages(ctx, store.PostParams{Queue: ref, Now: later, Messages: []store.Draft{{Body: []byte("other")}}})
		}()
		<-done
	})
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: ref, TTL: time.Minute, Limit: 10, Now: later})
	require.NoError(t, err)
	require.NoError(t, otherErr)
	// The other post came in between the steps, so the claim, which took
	// the lock last, sees its message too.
	got := []store.ID{res.Messages[0].ID, res.Messages[1].ID}
	require.Equal(t, []store.ID{keep[0], other[0]}, got)
	require.Len(t, res.Messages, 2)
	l.requireBounded(t, n+1)
	require.Len(t, l.totals, n/catchUpBatch-1, "a release between each two of the steps")

	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: ref, Now: later})
	require.NoError(t, err)
	require.Equal(t, store.Stats{Claimed: 2, Total: 2, Oldest: st.Oldest, Newest: st.Newest}, st)
	require.Equal(t, keep[0], st.Oldest.ID)
	require.Equal(t, other[0], st.Newest.ID)
	q.mu.Lock()
	require.Greater(t, q.due, later.UnixNano(), "nothing due left")
	q.mu.Unlock()
}

// A claim whose queue and dead-letter queue are both behind catches both
// up in bounded steps before it takes their two locks, then moves the
// message exactly as it would have.
func TestCatchUpDeadLetterBehind(t *testing.T) {
	ctx := context.Background()
	s := New()
	src, dlq := store.QueueRef{Name: "src"}, store.QueueRef{Name: "dlq"}
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: src, Now: t0,
		Metadata: json.RawMessage(`{"_max_claim_count": 1, "_dead_letter_queue": "dlq"}`)})
	require.NoError(t, err)
	poison := postN(t, s, src, t0, 1, time.Hour)
	first, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: src, TTL: time.Minute, Limit: 1, Now: t0})
	require.NoError(t, err)
	require.Len(t, first.Messages, 1)
	const nsrc, ndlq = 2500, 3000
	postN(t, s, src, t0, nsrc, time.Minute)
	postN(t, s, dlq, t0, ndlq, time.Minute)
	later := t0.Add(10 * time.Minute)
	qs, qd := s.queues[src], s.queues[dlq]
	ls, ld := &stepLog{}, &stepLog{}
	qs.betweenSteps = ls.hook(qs, nil)
	qd.betweenSteps = ld.hook(qd, nil)

	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: src, TTL: time.Minute, Limit: 10, Now: later})
	require.NoError(t, err)
	require.Empty(t, res.Messages)
	require.Equal(t, 1, res.DeadLettered)
	require.Equal(t, "dlq", res.DeadLetterQueue)
	ls.requireBounded(t, nsrc+1)
	ld.requireBounded(t, ndlq)
	require.NotEmpty(t, ls.totals)
	require.NotEmpty(t, ld.totals)

	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: src, Now: later})
	require.NoError(t, err)
	require.Equal(t, store.Stats{}, st)
	ms, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: dlq, Limit: 10, IncludeClaimed: true, IncludeDelayed: true, Now: later})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	require.Equal(t, []byte("x"), ms[0].Body)
	require.NotEqual(t, poison[0], ms[0].ID, "a new ID in the dead-letter queue")
	require.Zero(t, ms[0].ClaimCount)
	st, err = s.QueueStats(ctx, store.QueueStatsParams{Queue: dlq, Now: later})
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Total)
}
