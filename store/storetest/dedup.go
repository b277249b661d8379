package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var dedupTests = []subtest{
	{"M10/RepeatWithinWindowStoresNothing", testDedupWithinWindow},
	{"M10/RepeatAfterWindowStores", testDedupAfterWindow},
	{"M10/RepeatInsideBatch", testDedupInsideBatch},
	{"M10/PerQueue", testDedupPerQueue},
	{"M10/DedupWindowParam", testDedupWindowParam},
	{"M10/SurvivesPurge", testDedupSurvivesPurge},
}

// dedup posts one draft with a DedupID and returns its ID.
func (f *fixture) dedup(q store.QueueRef, body, key string, window time.Duration) store.ID {
	f.t.Helper()
	return f.postParams(store.PostParams{Queue: q, DedupWindow: window,
		Messages: []store.Draft{{Body: []byte(body), DedupID: key}}})[0]
}

func testDedupWithinWindow(f *fixture) {
	q := ref("q")
	first := f.dedup(q, "first", "k", 0)
	f.advance(time.Minute)
	require.Equal(f.t, first, f.dedup(q, "second", "k", 0))
	f.now = base.Add(store.DefaultDedupWindow - time.Nanosecond)
	require.Equal(f.t, first, f.dedup(q, "third", "k", 0))
	require.Equal(f.t, "first", string(f.getOne(q, first).Body))
	f.counts(q, 1, 0, 0)
}

func testDedupAfterWindow(f *fixture) {
	q := ref("q")
	first := f.dedup(q, "first", "k", 0)
	f.now = base.Add(store.DefaultDedupWindow + time.Nanosecond)
	second := f.dedup(q, "second", "k", 0)
	require.NotEqual(f.t, first, second)
	require.Equal(f.t, second, f.dedup(q, "third", "k", 0), "the new message is remembered in turn")
	f.counts(q, 2, 0, 0)
}

func testDedupInsideBatch(f *fixture) {
	q := ref("q")
	got := f.postDrafts(q,
		store.Draft{Body: []byte("a"), DedupID: "x"},
		store.Draft{Body: []byte("b"), DedupID: "x"},
		store.Draft{Body: []byte("c"), DedupID: "y"},
		store.Draft{Body: []byte("d")})
	require.Equal(f.t, got[0], got[1], "a repeat inside the batch gets the first ID")
	require.NotEqual(f.t, got[0], got[2])
	requireIncreasing(f.t, []store.ID{got[1], got[2], got[3]})
	f.counts(q, 3, 0, 0)
	require.Equal(f.t, "a", string(f.getOne(q, got[0]).Body))
}

func testDedupPerQueue(f *fixture) {
	one, two := ref("one"), ref("two")
	other := store.QueueRef{Project: "other", Name: "one"}
	a := f.dedup(one, "a", "k", 0)
	b := f.dedup(two, "b", "k", 0)
	c := f.dedup(other, "c", "k", 0)
	require.NotEqual(f.t, a, b)
	require.NotEqual(f.t, a, c)
	for _, q := range []store.QueueRef{one, two, other} {
		f.counts(q, 1, 0, 0)
	}
}

func testDedupWindowParam(f *fixture) {
	q := ref("q")
	const window = 10 * time.Second
	first := f.dedup(q, "a", "k", window)
	f.now = base.Add(window - time.Nanosecond)
	require.Equal(f.t, first, f.dedup(q, "b", "k", window))
	f.now = base.Add(window + time.Nanosecond)
	require.NotEqual(f.t, first, f.dedup(q, "c", "k", window))
	f.counts(q, 2, 0, 0)
}

// testDedupSurvivesPurge follows store.QueueStore.PurgeQueue: "Metadata and
// dedup entries stay", so a retry after a purge still stores nothing.
func testDedupSurvivesPurge(f *fixture) {
	q := ref("q")
	first := f.dedup(q, "a", "k", 0)
	require.NoError(f.t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: q, Now: f.now}))
	require.Equal(f.t, first, f.dedup(q, "b", "k", 0))
	f.counts(q, 0, 0, 0)
}
