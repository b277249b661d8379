package storetest

import (
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var sweepTests = []subtest{
	{"B1/SweepRemovesExpired", testSweepRemovesExpired},
	{"B1/SweepChangesNoRead", testSweepChangesNoRead},
	{"B1/SweepBeforeExpiryRemovesNothing", testSweepBeforeExpiryRemovesNothing},
	{"B1/SweepLimitAndMore", testSweepLimitAndMore},
	{"B1/SweepLimitValidated", testSweepLimitValidated},
}

// sweep runs one Sweep at the fixture's Now.
func (f *fixture) sweep(limit int) store.SweepResult {
	f.t.Helper()
	res, err := f.s.Sweep(f.ctx, store.SweepParams{Now: f.now, Limit: limit})
	require.NoError(f.t, err, "Sweep")
	require.LessOrEqual(f.t, res.Messages+res.Claims+res.Dedup, limit, "Sweep removed more than Limit: %+v", res)
	return res
}

// expiring fills a store with five messages that expire at 10s, one claim
// that expires at 5s and three dedup entries that expire at 20s, on two
// queues and in two projects, beside items that live on.
func (f *fixture) expiring() []store.QueueRef {
	one, two := ref("one"), store.QueueRef{Project: "other", Name: "two"}
	for i := range 5 {
		f.postDrafts([]store.QueueRef{one, two}[i%2], store.Draft{Body: []byte("short"), TTL: 10 * time.Second})
	}
	f.postDrafts(one, store.Draft{Body: []byte("long"), TTL: time.Hour})
	f.claimWith(store.CreateClaimParams{Queue: one, TTL: 5 * time.Second, Limit: 1}) // takes a short one
	for i := range 3 {
		f.postParams(store.PostParams{Queue: two, DedupWindow: 20 * time.Second,
			Messages: []store.Draft{{Body: []byte("dedup"), DedupID: fmt.Sprint("k", i), TTL: time.Hour}}})
	}
	return []store.QueueRef{one, two}
}

// testSweepRemovesExpired sweeps right after the expiries, with no read in
// between: a store may drop expired items when a read passes them, which
// would leave the sweep less to count.
func testSweepRemovesExpired(f *fixture) {
	queues := f.expiring()
	f.advance(time.Minute)
	require.Equal(f.t, store.SweepResult{Messages: 5, Claims: 1, Dedup: 3}, f.sweep(1000))
	require.Equal(f.t, store.SweepResult{}, f.sweep(1000), "a second sweep finds nothing")
	f.counts(queues[0], 1, 0, 0)
	f.counts(queues[1], 3, 0, 0)
	f.postParams(store.PostParams{Queue: queues[1], Messages: []store.Draft{{Body: []byte("again"), DedupID: "k0"}}})
	f.counts(queues[1], 4, 0, 0)
}

// testSweepChangesNoRead compares everything a caller can read before and
// after a sweep: reads were exact before it (B4), so it has nothing to fix.
func testSweepChangesNoRead(f *fixture) {
	queues := f.expiring()
	f.advance(time.Minute)
	before := f.snapshots(queues...)
	f.sweep(1000)
	require.Equal(f.t, before, f.snapshots(queues...))
}

func testSweepBeforeExpiryRemovesNothing(f *fixture) {
	queues := f.expiring()
	f.advance(5*time.Second - time.Nanosecond)
	before := f.snapshots(queues...)
	require.Equal(f.t, store.SweepResult{}, f.sweep(1000))
	require.Equal(f.t, before, f.snapshots(queues...))
	// The dedup entries are still there: a retry stores nothing.
	f.postParams(store.PostParams{Queue: queues[1], Messages: []store.Draft{{Body: []byte("again"), DedupID: "k0"}}})
	require.Equal(f.t, before[1].Stats, f.stats(queues[1]))
}

func testSweepLimitAndMore(f *fixture) {
	const n, limit = 25, 10
	q := ref("q")
	drafts := make([]store.Draft, n)
	for i := range drafts {
		drafts[i] = store.Draft{Body: []byte("x"), TTL: time.Second}
	}
	f.postDrafts(q, drafts...)
	f.post(q, "stays")
	f.advance(time.Second)

	first := f.sweep(limit)
	require.Equal(f.t, limit, first.Messages, "a sweep with work left fills its limit")
	require.True(f.t, first.More)
	total := first.Messages
	for range n {
		res := f.sweep(limit)
		total += res.Messages
		if !res.More {
			break
		}
	}
	require.Equal(f.t, n, total, "repeated sweeps remove every expired message once")
	require.Equal(f.t, store.SweepResult{}, f.sweep(limit))
	f.counts(q, 1, 0, 0)
}

func testSweepLimitValidated(f *fixture) {
	f.post(ref("q"), "x")
	for _, limit := range []int{0, -1} {
		_, err := f.s.Sweep(f.ctx, store.SweepParams{Now: f.now, Limit: limit})
		require.ErrorIs(f.t, err, store.ErrInvalidLimit, "limit %d", limit)
	}
}
