package bolt

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/heraldmq/herald/store"
)

// subscribe makes a confirmed day-long subscription of who to q at now.
func subscribe(t *testing.T, s *Store, q store.QueueRef, now time.Time, who string) store.Subscription {
	t.Helper()
	sub, created, err := s.CreateSubscription(t.Context(), store.CreateSubscriptionParams{Queue: q, Subscriber: who, TTL: 24 * time.Hour, Confirmed: true, Now: now})
	require.NoError(t, err)
	require.True(t, created)
	return sub
}

func lease(t *testing.T, s *Store, now time.Time, limit int) []store.Delivery {
	t.Helper()
	ds, _, err := s.LeaseDeliveries(t.Context(), store.LeaseDeliveriesParams{Limit: limit, Lease: time.Minute, Now: now})
	require.NoError(t, err)
	return ds
}

// outboxState fills a store with a delivery in every state: pending,
// leased, retrying and failed, over two queues.
func outboxState(t *testing.T, s *Store) (store.QueueRef, []store.Delivery) {
	q, other := store.QueueRef{Project: "p", Name: "q"}, store.QueueRef{Project: "p", Name: "other"}
	subscribe(t, s, q, t0, "http://a")
	subscribe(t, s, q, t0, "http://b")
	subscribe(t, s, other, t0, "http://a")
	post(t, s, q, t0, "m0", "m1", "m2")
	post(t, s, other, t0, "o")
	ds := lease(t, s, t0, 3)
	require.Len(t, ds, 3)
	settle := func(d store.Delivery, o store.Outcome) {
		require.NoError(t, s.SettleDelivery(t.Context(), store.SettleDeliveryParams{Queue: d.Queue, ID: d.ID, Outcome: o, RetryAt: t0.Add(time.Hour), Error: "x", Now: t0}))
	}
	settle(ds[0], store.Failed)
	settle(ds[1], store.Retry)
	return q, ds
}

// D3: Verify checks the outbox indexes against their records and names a
// missing entry.
func TestVerifyOutbox(t *testing.T) {
	s := openAt(t)
	defer s.Close()
	q, ds := outboxState(t, s)
	require.NoError(t, s.Verify(t.Context()))

	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkDue).Delete(timeKey(store.Nanos(t0.Add(time.Minute)), ds[2].ID[:]))
	}))
	err := s.Verify(t.Context())
	require.ErrorIs(t, err, store.ErrCorrupt)
	require.ErrorContains(t, err, "delivery "+ds[2].ID.String())

	// Deleting the queue leaves nothing behind in the outbox.
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bkDue).Put(timeKey(store.Nanos(t0.Add(time.Minute)), ds[2].ID[:]), empty)
	}))
	require.NoError(t, s.DeleteQueue(t.Context(), store.DeleteQueueParams{Queue: q}))
	require.NoError(t, s.Verify(t.Context()))
}

// S2, D3: subscriptions and every pending, leased and failed delivery
// survive a restart, and the indexes still agree.
func TestRestartOutbox(t *testing.T) {
	s := openAt(t)
	q, ds := outboxState(t, s)
	s = reopenStore(t, s)
	defer s.Close()
	require.NoError(t, s.Verify(t.Context()))
	failed, err := s.ListFailedDeliveries(t.Context(), store.ListFailedDeliveriesParams{Queue: q, Limit: 10})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	require.Equal(t, ds[0].ID, failed[0].ID)
	// Seven deliveries: one failed, one retrying at +1h, one leased.
	require.Len(t, lease(t, s, t0, 10), 4, "the pending ones; the leased one is still leased")
	require.Len(t, lease(t, s, t0.Add(time.Hour), 10), 6, "all but the failed one")
}

// A file written before the outbox existed (schema 1 without the outbox
// buckets) opens as it is, gets the buckets, and takes subscriptions.
func TestOpenFileWithoutOutbox(t *testing.T) {
	s := openAt(t)
	q := store.QueueRef{Name: "q"}
	post(t, s, q, t0, "old")
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error {
		for _, name := range outboxBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	}))
	s = reopenStore(t, s)
	defer s.Close()
	require.NoError(t, s.DB().View(func(tx *bbolt.Tx) error {
		v, _ := bytesInt64(tx.Bucket(bkHerald).Get(keySchema))
		require.Equal(t, int64(schemaVersion), v)
		for _, name := range outboxBuckets {
			require.NotNil(t, tx.Bucket(name))
		}
		return nil
	}))
	has, err := s.HasSubscriptions(t.Context(), t0)
	require.NoError(t, err)
	require.False(t, has)
	subscribe(t, s, q, t0, "http://a")
	post(t, s, q, t0, "new")
	ds := lease(t, s, t0, 10)
	require.Len(t, ds, 1)
	require.Equal(t, []byte("new"), ds[0].Body)
	require.NoError(t, s.Verify(t.Context()))
}

// Reads never write: a lease with nothing due, and every read of the
// outbox, commit nothing.
func TestOutboxReadsDoNotWrite(t *testing.T) {
	s := openAt(t)
	defer s.Close()
	q, _ := outboxState(t, s)
	commits, _ := s.commitStats()
	ctx := t.Context()
	_, err := s.HasSubscriptions(ctx, t0)
	require.NoError(t, err)
	_, err = s.ListSubscriptions(ctx, store.ListSubscriptionsParams{Queue: q, Limit: 10, Now: t0})
	require.NoError(t, err)
	_, err = s.ListFailedDeliveries(ctx, store.ListFailedDeliveriesParams{Queue: q, Limit: 10})
	require.NoError(t, err)
	lease(t, s, t0, 10) // takes the due ones: a write
	after, _ := s.commitStats()
	require.Equal(t, commits+1, after)
	ds, next, err := s.LeaseDeliveries(ctx, store.LeaseDeliveriesParams{Limit: 10, Lease: time.Minute, Now: t0})
	require.NoError(t, err)
	require.Empty(t, ds)
	require.True(t, next.Equal(t0.Add(time.Minute)), "next %v", next)
	again, _ := s.commitStats()
	require.Equal(t, after, again, "nothing due: no commit")
}

// M11, D4: a delivery whose body fails its checksum is never handed out
// and does not block the others: the lease marks it failed (with the
// reason) and goes on; listing failed deliveries skips it.
func TestCorruptDeliveryFailsAlone(t *testing.T) {
	s := openAt(t)
	defer s.Close()
	bad, good := store.QueueRef{Project: "p", Name: "bad"}, store.QueueRef{Project: "p", Name: "good"}
	subscribe(t, s, bad, t0, "http://a")
	subscribe(t, s, good, t0, "http://a")
	post(t, s, bad, t0, "AAAA")
	post(t, s, good, t0, "BBBB")
	require.NoError(t, s.DB().Update(func(tx *bbolt.Tx) error { // bit rot in the first delivery
		b := tx.Bucket([]byte("outbox.dels"))
		k, v := b.Cursor().First()
		v = append([]byte(nil), v...)
		v[len(v)-1] ^= 0xff
		return b.Put(append([]byte(nil), k...), v)
	}))
	ds := lease(t, s, t0, 10)
	require.Len(t, ds, 1)
	require.Equal(t, "BBBB", string(ds[0].Body))
	require.Empty(t, lease(t, s, t0, 10), "the bad one is failed, not due")
	failed, err := s.ListFailedDeliveries(t.Context(), store.ListFailedDeliveriesParams{Queue: bad, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, failed, "a bad body is never returned")
	require.ErrorIs(t, s.Verify(t.Context()), store.ErrCorrupt, "Verify still names the damaged record")
}
