package bolt

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// Issue 14 item 3(b): an empty queue cost a 4 KiB page (100,000 PUTs made
// a 420 MB file), since a bucket holding nested buckets is never stored
// inline. A queue that never held a message now has no nested buckets and
// is stored inline in the queues bucket. The bound is on the space bbolt
// uses (its high-water page, tx.Size), before and after Compact, per
// queue.
func TestEmptyQueueCost(t *testing.T) {
	const n, limit = 2_000, 512 // bytes per queue
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	base := usedBytes(t, s)
	// Eight creators share commits (D2), which keeps the test quick.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if _, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: store.QueueRef{Project: "p", Name: fmt.Sprintf("q%d", i)}, Now: t0}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	used := usedBytes(t, s) - base
	_, _, err = s.Compact(ctx)
	require.NoError(t, err)
	compacted := usedBytes(t, s) - base
	t.Logf("%d empty queues: %d B per queue used, %d B per queue compacted", n, used/n, compacted/n)
	require.LessOrEqual(t, used/n, int64(limit), "bytes per empty queue")
	require.LessOrEqual(t, compacted/n, int64(limit), "bytes per empty queue after Compact")
	require.NoError(t, s.Verify(ctx))
}

// usedBytes is the extent of the file bbolt uses: the file itself grows
// in steps of up to 16 MiB, which would hide the cost.
func usedBytes(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error { n = tx.Size(); return nil }))
	return n
}

// A queue gets its nested buckets with its first message, by every path a
// message enters by (post, dead-lettering, Transact), and keeps working
// through purge, delete and a reopen either way.
func TestLazyQueueBuckets(t *testing.T) {
	s := openAt(t)
	defer func() { require.NoError(t, s.Close()) }()
	ctx := t.Context()
	q := store.QueueRef{Project: "p", Name: "lazy"}
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.False(t, hasBuckets(t, s, q), "a new queue has no nested buckets")

	// Reads, claims, pops, purges and sweeps leave it lazy.
	require.NoError(t, s.PurgeQueue(ctx, store.PurgeQueueParams{Queue: q, Now: t0}))
	res, err := s.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 5, Now: t0})
	require.NoError(t, err)
	require.Empty(t, res.Messages)
	_, err = s.Sweep(ctx, store.SweepParams{Limit: 100, Now: t0.Add(time.Hour)})
	require.NoError(t, err)
	st, err := s.QueueStats(ctx, store.QueueStatsParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.Zero(t, st.Total)
	require.False(t, hasBuckets(t, s, q))
	require.NoError(t, s.Verify(ctx))

	s = reopenStore(t, s)
	ids := post(t, s, q, t0, "first")
	require.True(t, hasBuckets(t, s, q), "the first post gives the queue its buckets")
	msgs, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 10, Now: t0})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, ids[0], msgs[0].ID)
	require.NoError(t, s.Verify(ctx))

	require.NoError(t, s.DeleteQueue(ctx, store.DeleteQueueParams{Queue: q}))
	require.NoError(t, s.Verify(ctx))
}

// A dedup'd post into a lazy queue: the dedup entry goes into the bucket
// its message's insert made, never into the shared empty one.
func TestLazyQueueDedup(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Project: "p", Name: "dedup"}
	_, err := s.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: t0})
	require.NoError(t, err)
	ds := []store.Draft{{Body: []byte("a"), DedupID: "x"}, {Body: []byte("b"), DedupID: "x"}}
	ids, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: ds, Now: t0})
	require.NoError(t, err)
	require.Equal(t, ids[0], ids[1])
	again, err := s.PostMessages(ctx, store.PostParams{Queue: q, Messages: ds[:1], Now: t0})
	require.NoError(t, err)
	require.Equal(t, ids[0], again[0])
	require.NoError(t, s.Verify(ctx))
}

// D4: a queue with some of its nested buckets but not all, or a key in the
// shared empty bucket, is damage that Verify names.
func TestLazyQueueDamage(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	q := store.QueueRef{Project: "p", Name: "q"}
	post(t, s, q, t0, "m")
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkQueues).Bucket(queueKey(q)).DeleteBucket(bkClaims)
	}))
	err := s.Verify(ctx)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, `bucket "claims" is missing`)
	_, err = s.ListMessages(ctx, store.ListMessagesParams{Queue: q, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrCorrupt)

	s2 := openTest(t)
	_, err = s2.CreateQueue(ctx, store.CreateQueueParams{Queue: q, Now: t0})
	require.NoError(t, err)
	require.NoError(t, s2.DB().Update(func(tx *bbolt.Tx) error {
		return voidBucket(tx).Put([]byte("stray"), empty)
	}))
	err = s2.Verify(ctx)
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "shared empty bucket")
	// A write that opens a lazy queue refuses to commit over it.
	_, err = s2.CreateClaim(ctx, store.CreateClaimParams{Queue: q, TTL: time.Minute, Limit: 1, Now: t0})
	require.ErrorIs(t, err, store.ErrCorrupt)
}

// A schema 1 file (every queue with its nine nested buckets, no void
// bucket) opens, is upgraded to schema 2 in place, and its queues, empty
// or not, keep their contents and work.
func TestSchema1Upgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	ctx := t.Context()
	full, empty1 := store.QueueRef{Project: "p", Name: "full"}, store.QueueRef{Project: "p", Name: "empty"}
	ids := post(t, s, full, t0, "one", "two")
	_, err = s.CreateQueue(ctx, store.CreateQueueParams{Queue: empty1, Now: t0})
	require.NoError(t, err)
	// Rewrite it as schema 1 wrote it.
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		eb := tx.Bucket(bkQueues).Bucket(queueKey(empty1))
		for _, name := range queueBuckets {
			if _, err := eb.CreateBucket(name); err != nil {
				return err
			}
		}
		h := tx.Bucket(bkHerald)
		if err := h.DeleteBucket(bkVoid); err != nil {
			return err
		}
		return h.Put(keySchema, int64Bytes(1))
	}))
	require.NoError(t, s.Close())

	s, err = Open(path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error {
		v, _ := bytesInt64(tx.Bucket(bkHerald).Get(keySchema))
		require.Equal(t, int64(2), v)
		require.NotNil(t, voidBucket(tx))
		return nil
	}))
	require.NoError(t, s.Verify(ctx))
	msgs, err := s.ListMessages(ctx, store.ListMessagesParams{Queue: full, Limit: 10, Now: t0})
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, ids[1], msgs[1].ID)
	post(t, s, empty1, t0, "three")
	require.NoError(t, s.Verify(ctx))
}

// hasBuckets reports whether queue q has nested buckets of its own.
func hasBuckets(t *testing.T, s *Store, q store.QueueRef) bool {
	t.Helper()
	var has bool
	require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bkQueues).Bucket(queueKey(q))
		require.NotNil(t, b)
		has = b.Bucket(bkMsgs) != nil
		return nil
	}))
	return has
}
