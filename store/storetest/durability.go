package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var durabilityTests = []subtest{
	{"C8/LiveClaimSurvivesReopen", testLiveClaimSurvivesReopen},
	{"C8/DataSurvivesReopen", testDataSurvivesReopen},
	{"M2/IDsIncreaseAcrossReopen", testIDsIncreaseAcrossReopen},
}

// reopen closes the store and opens its data again, or skips the subtest
// for a store that keeps nothing.
func (f *fixture) reopen() {
	f.t.Helper()
	f.requireReopen()
	f.s = f.opts.Reopen(f.t, f.s)
	require.NotNil(f.t, f.s, "Reopen returned nil")
}

// requireReopen skips before any setup when the store cannot reopen.
func (f *fixture) requireReopen() {
	if f.opts.Reopen == nil {
		f.t.Skip("Options.Reopen not set: the store is not durable")
	}
}

func testLiveClaimSurvivesReopen(f *fixture) {
	f.requireReopen()
	q := ref("q")
	posted := f.post(q, "a", "b", "c")
	c := f.claimWith(store.CreateClaimParams{Queue: q, TTL: time.Minute, Grace: time.Second, Limit: 2})
	f.advance(time.Second)
	f.reopen()

	info, held := f.getClaim(q, c.Claim.ID)
	requireClaimInfo(f, c.Claim, info)
	require.ElementsMatch(f.t, posted[:2], ids(held))
	other := f.claim(q, 10)
	require.Equal(f.t, posted[2:], ids(other.Messages), "a reopened store still honours the live claim")
	require.NoError(f.t, f.del(q, c.Claim.ID, posted[0]), "the claim ID still works")
	require.ErrorIs(f.t, f.del(q, other.Claim.ID, posted[1]), store.ErrClaimMismatch)

	f.now = c.Claim.Expires
	f.requireNoClaim(q, c.Claim.ID)
	require.Equal(f.t, posted[1:2], f.visible(q), "the claim still expires on time")
}

func testDataSurvivesReopen(f *fixture) {
	f.requireReopen()
	q := ref("q")
	f.create(q, `{"_max_claim_count":5,"user":"x"}`)
	f.post(q, "a", "b")
	f.postDrafts(q, store.Draft{Body: []byte("delayed"), Delay: time.Hour}, store.Draft{Body: []byte("d"), DedupID: "k"})
	c := f.claim(q, 1)
	f.release(q, c.Claim.ID, 0)
	f.claim(q, 1) // the first message again: claim count 2, claimed
	queues := f.snapshots(q)
	names := f.queueNames("p")

	f.reopen()
	require.Equal(f.t, queues, f.snapshots(q), "metadata, messages, claims and counters survive")
	require.Equal(f.t, names, f.queueNames("p"))
	require.Equal(f.t, 2, f.all(q)[0].ClaimCount)
	dup := f.postDrafts(q, store.Draft{Body: []byte("again"), DedupID: "k"})
	require.Equal(f.t, queues[0].Messages[3].ID, dup[0], "dedup entries survive")
	require.Equal(f.t, queues[0].Stats, f.stats(q))
}

func testIDsIncreaseAcrossReopen(f *fixture) {
	f.requireReopen()
	q := ref("q")
	f.now = base.Add(time.Hour)
	before := f.post(q, "a")
	f.reopen()
	f.now = base // the clock stepped back across the restart
	after := f.post(q, "b")
	require.Negative(f.t, before[0].Compare(after[0]), "IDs increase across a reopen")
}
