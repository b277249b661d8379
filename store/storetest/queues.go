package storetest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var queueTests = []subtest{
	{"Q1/ValidNamesAccepted", testValidNamesAccepted},
	{"Q1/InvalidNamesRejected", testInvalidNamesRejected},
	{"Q2/PostCreatesQueue", testPostCreatesQueue},
	{"Q2/CreateExistingKeepsMetadata", testCreateExistingKeepsMetadata},
	{"Q2/CreateChecksMetadataEvenIfExists", testCreateChecksMetadataEvenIfExists},
	{"Q3/MetadataRoundTrip", testMetadataRoundTrip},
	{"Q3/ReservedKeysValidated", testReservedKeysValidated},
	{"Q3/SetMetadataOnMissingQueue", testSetMetadataOnMissingQueue},
	{"Q3/SetMetadataCompareAndSwap", testSetMetadataCompareAndSwap},
	{"Q3/NoMetadataReadsAsEmptyObject", testNoMetadataReadsAsEmptyObject},
	{"Q3/DefaultMessageTTLApplies", testDefaultMessageTTLApplies},
	{"Q3/DefaultMessageDelayApplies", testDefaultMessageDelayApplies},
	{"Q4/ListQueuesPaging", testListQueuesPaging},
	{"Q4/ListQueuesByteOrderWithMetadata", testListQueuesByteOrderWithMetadata},
	{"Q5/StatsEmptyAndMissing", testStatsEmptyAndMissing},
	{"Q5/StatsExactWithoutSweep", testStatsExactWithoutSweep},
	{"Q5/StatsOldestNewest", testStatsOldestNewest},
	{"Q6/PurgeEndsClaimsKeepsMetadata", testPurgeEndsClaimsKeepsMetadata},
	{"Q6/DeleteQueueRemovesEverything", testDeleteQueueRemovesEverything},
}

func testValidNamesAccepted(f *fixture) {
	names := []string{strings.Repeat("a", store.MaxQueueNameLen), "AZaz09_.-", "a", "-", "_", "Q.1"}
	for _, name := range names {
		f.create(ref(name), "")
		f.post(ref(name), "x")
	}
	sort.Strings(names)
	require.Equal(f.t, names, f.queueNames("p"))
}

// badNames break Q1 one way each.
var badNames = []string{"", strings.Repeat("a", store.MaxQueueNameLen+1), "a/b", "a b", "é", "a*", "a\x00", "q?", "a:b"}

func testInvalidNamesRejected(f *fixture) {
	for _, name := range badNames {
		for _, c := range f.queueCalls(ref(name)) {
			require.ErrorIs(f.t, c.fn(), store.ErrInvalidName, "%s on queue %q", c.name, name)
		}
	}
	require.Empty(f.t, f.queueNames("p"), "a rejected call created a queue")
}

func testPostCreatesQueue(f *fixture) {
	q := ref("lazy")
	f.requireNoQueue(q)
	_, err := f.s.QueueStats(f.ctx, store.QueueStatsParams{Queue: q, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrNotFound)
	f.post(q, "x")
	info := f.queue(q)
	requireMeta(f.t, `{}`, info.Metadata)
	requireTime(f.t, f.now, info.Created, "Created")
	require.Equal(f.t, []string{"lazy"}, f.queueNames("p"))
}

func testCreateExistingKeepsMetadata(f *fixture) {
	q := ref("q")
	f.create(q, `{"a":1}`)
	created := f.now
	f.advance(time.Second)
	again, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(`{"b":2}`), Now: f.now})
	require.NoError(f.t, err)
	require.False(f.t, again, "CreateQueue on an existing queue reports false")
	info := f.queue(q)
	requireMeta(f.t, `{"a":1}`, info.Metadata)
	requireTime(f.t, created, info.Created, "Created")
}

func testCreateChecksMetadataEvenIfExists(f *fixture) {
	q := ref("q")
	f.create(q, `{"a":1}`)
	for _, meta := range []string{`[1]`, `{"_default_message_ttl":"60"}`} {
		_, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(meta), Now: f.now})
		require.ErrorIs(f.t, err, store.ErrInvalidMetadata, "metadata %s", meta)
	}
	requireMeta(f.t, `{"a":1}`, f.queue(q).Metadata)
}

// validMeta sets every reserved key plus ordinary user keys.
const validMeta = `{"_default_message_ttl":3600,"_default_message_delay":0,"_max_messages_post_size":65536,
	"_max_claim_count":3,"_dead_letter_queue":"dead","_dead_letter_queue_messages_ttl":600,"_flavor":"gold",
	"user":{"nested":[1,"two",null]},"n":1.5}`

func testMetadataRoundTrip(f *fixture) {
	q := ref("q")
	f.create(q, validMeta)
	requireMeta(f.t, validMeta, f.queue(q).Metadata)

	// Set replaces the whole object: keys not given are gone.
	next := `{"_max_claim_count":null,"other":"x"}`
	require.NoError(f.t, f.s.SetQueueMetadata(f.ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(next)}))
	requireMeta(f.t, next, f.queue(q).Metadata)
}

// badMeta is metadata every queue must refuse (Q3); selfDLQ is refused only
// by the queue it names.
var badMeta = []string{
	`[1,2]`, `"text"`, `null`, `{`, `{"_default_message_ttl":"60"}`, `{"_default_message_ttl":1.5}`,
	`{"_default_message_ttl":-1}`, `{"_default_message_delay":true}`, `{"_max_messages_post_size":-5}`,
	`{"_max_claim_count":2.5}`, `{"_max_claim_count":"2"}`, `{"_dead_letter_queue":"a/b"}`,
	`{"_dead_letter_queue":5}`, `{"_dead_letter_queue_messages_ttl":[]}`,
	`{"_flavor":1}`,
}

func selfDLQ(name string) string { return fmt.Sprintf(`{"_dead_letter_queue":%q}`, name) }

func testReservedKeysValidated(f *fixture) {
	q := ref("q")
	f.create(q, `{"keep":true}`)
	for i, meta := range append(badMeta, selfDLQ(q.Name)) {
		_, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(meta), Now: f.now})
		require.ErrorIs(f.t, err, store.ErrInvalidMetadata, "CreateQueue(existing) with %s", meta)
		err = f.s.SetQueueMetadata(f.ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(meta)})
		require.ErrorIs(f.t, err, store.ErrInvalidMetadata, "SetQueueMetadata with %s", meta)

		fresh := ref(fmt.Sprintf("fresh%d", i))
		if meta == selfDLQ(q.Name) {
			meta = selfDLQ(fresh.Name)
		}
		_, err = f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: fresh, Metadata: raw(meta), Now: f.now})
		require.ErrorIs(f.t, err, store.ErrInvalidMetadata, "CreateQueue(new) with %s", meta)
		f.requireNoQueue(fresh)
	}
	requireMeta(f.t, `{"keep":true}`, f.queue(q).Metadata)
}

func testSetMetadataOnMissingQueue(f *fixture) {
	q := ref("missing")
	err := f.s.SetQueueMetadata(f.ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(`{"a":1}`)})
	require.ErrorIs(f.t, err, store.ErrNotFound)
	f.requireNoQueue(q)
}

// setMeta sets q's metadata to meta if it is still expected ("" means
// unconditionally).
func (f *fixture) setMeta(q store.QueueRef, meta string, expected json.RawMessage) error {
	return f.s.SetQueueMetadata(f.ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(meta), Expected: expected})
}

func testSetMetadataCompareAndSwap(f *fixture) {
	q := ref("q")
	f.create(q, "")
	// A queue made without metadata compares as {}.
	require.NoError(f.t, f.setMeta(q, `{"a":1}`, raw(`{}`)))
	read := f.queue(q).Metadata
	requireMeta(f.t, `{"a":1}`, read)

	// What was read is current: the swap lands.
	require.NoError(f.t, f.setMeta(q, `{"a":1,"b":2}`, read))
	requireMeta(f.t, `{"a":1,"b":2}`, f.queue(q).Metadata)

	// The same read is stale now: conflict, and nothing changes, even for
	// metadata that would itself be refused.
	require.ErrorIs(f.t, f.setMeta(q, `{"a":1,"c":3}`, read), store.ErrConflict)
	require.ErrorIs(f.t, f.setMeta(q, `{"_max_claim_count":"x"}`, read), store.ErrInvalidMetadata)
	require.ErrorIs(f.t, f.setMeta(q, `{"a":1}`, raw(`{"a": 1}`)), store.ErrConflict, "the comparison is byte for byte")
	requireMeta(f.t, `{"a":1,"b":2}`, f.queue(q).Metadata)

	// Without Expected the write is unconditional.
	require.NoError(f.t, f.setMeta(q, `{"d":4}`, nil))
	requireMeta(f.t, `{"d":4}`, f.queue(q).Metadata)

	missing := ref("missing")
	require.ErrorIs(f.t, f.setMeta(missing, `{"a":1}`, raw(`{}`)), store.ErrNotFound)
	f.requireNoQueue(missing)
}

// testNoMetadataReadsAsEmptyObject: a queue without metadata, however it
// came to be, reads back as exactly {} from GetQueue and ListQueues, never
// empty. Callers hand what they read back as SetQueueMetadataParams.Expected,
// where empty means "write unconditionally", so a store that read back
// empty would turn a compare-and-swap into a blind write.
func testNoMetadataReadsAsEmptyObject(f *fixture) {
	made, spaced, lazy, cleared := ref("made"), ref("spaced"), ref("lazy"), ref("cleared")
	src, dead := ref("src"), ref("dead")
	f.create(made, "")
	created, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: spaced, Metadata: raw(" \n"), Now: f.now})
	require.NoError(f.t, err)
	require.True(f.t, created)
	f.post(lazy, "x")
	f.create(cleared, `{"a":1}`)
	require.NoError(f.t, f.setMeta(cleared, "", nil))

	// A claim's dead-letter move creates the dead-letter queue (C6).
	f.create(src, `{"_max_claim_count":1,"_dead_letter_queue":"dead"}`)
	f.post(src, "poison")
	f.release(src, f.claim(src, 1).Claim.ID, 0)
	require.Equal(f.t, 1, f.claim(src, 1).DeadLettered)

	empty := []store.QueueRef{made, spaced, lazy, cleared, dead}
	for _, q := range empty {
		require.Equal(f.t, "{}", string(f.queue(q).Metadata), "GetQueue %q", q.Name)
	}
	infos, err := f.s.ListQueues(f.ctx, store.ListQueuesParams{Project: "p", Limit: 100, WithMetadata: true})
	require.NoError(f.t, err)
	listed := map[string]string{}
	for _, i := range infos {
		listed[i.Name] = string(i.Metadata)
	}
	for _, q := range empty {
		require.Equal(f.t, "{}", listed[q.Name], "ListQueues %q", q.Name)
	}
}

func testDefaultMessageTTLApplies(f *fixture) {
	q := ref("q")
	f.create(q, `{"_default_message_ttl":30}`)
	byQueue := f.postParams(store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("d")}}, DefaultTTL: 5 * time.Minute})
	own := f.postDrafts(q, store.Draft{Body: []byte("o"), TTL: 10 * time.Second})
	requireTime(f.t, f.now.Add(30*time.Second), f.getOne(q, byQueue[0]).Expires, "queue default beats DefaultTTL")
	requireTime(f.t, f.now.Add(10*time.Second), f.getOne(q, own[0]).Expires, "draft TTL beats queue default")
}

func testDefaultMessageDelayApplies(f *fixture) {
	q := ref("q")
	f.create(q, `{"_default_message_delay":20}`)
	byQueue := f.post(q, "d")
	own := f.postDrafts(q, store.Draft{Body: []byte("o"), Delay: 5 * time.Second})
	requireTime(f.t, f.now.Add(20*time.Second), f.getOne(q, byQueue[0]).VisibleAt, "queue default delay")
	requireTime(f.t, f.now.Add(5*time.Second), f.getOne(q, own[0]).VisibleAt, "draft delay")
	f.counts(q, 0, 0, 2)
	require.Empty(f.t, f.claim(q, 10).Messages)
	f.advance(5 * time.Second)
	require.Equal(f.t, own, ids(f.claim(q, 10).Messages))
}

func testListQueuesPaging(f *fixture) {
	var want []string
	for i := 14; i >= 0; i-- { // created out of order: listing sorts
		name := fmt.Sprintf("q%02d", i)
		f.create(ref(name), fmt.Sprintf(`{"i":%d}`, i))
		want = append([]string{name}, want...)
	}
	f.create(store.QueueRef{Project: "other", Name: "q99"}, "")

	page := func(marker string, limit int) []string {
		qs, err := f.s.ListQueues(f.ctx, store.ListQueuesParams{Project: "p", Marker: marker, Limit: limit})
		require.NoError(f.t, err)
		names := make([]string, len(qs))
		for i, q := range qs {
			names[i] = q.Name
			require.Nil(f.t, q.Metadata, "WithMetadata false")
		}
		return names
	}
	require.Equal(f.t, want[:10], page("", 10))
	require.Equal(f.t, want[10:], page("q09", 10))
	require.Empty(f.t, page("q14", 10))
	require.Equal(f.t, want[6:7], page("q05", 1), "marker is exclusive")
	require.Equal(f.t, want[6:8], page("q05x", 2), "a marker need not name a queue")
	require.Equal(f.t, []string{"q99"}, f.queueNames("other"))
}

func testListQueuesByteOrderWithMetadata(f *fixture) {
	names := []string{"beta", "Zulu", "alpha", "_x", "1", "alpha.2", "alpha-1"}
	for i, n := range names {
		f.create(ref(n), fmt.Sprintf(`{"i":%d}`, i))
	}
	qs, err := f.s.ListQueues(f.ctx, store.ListQueuesParams{Project: "p", Limit: 100, WithMetadata: true})
	require.NoError(f.t, err)
	sorted := append([]string(nil), names...)
	sort.Strings(sorted) // byte order
	require.Len(f.t, qs, len(names))
	for i, q := range qs {
		require.Equal(f.t, sorted[i], q.Name)
		requireMeta(f.t, fmt.Sprintf(`{"i":%d}`, indexOf(names, q.Name)), q.Metadata)
		requireTime(f.t, base, q.Created, "Created")
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func testStatsEmptyAndMissing(f *fixture) {
	q := ref("q")
	_, err := f.s.QueueStats(f.ctx, store.QueueStatsParams{Queue: q, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrNotFound)
	f.create(q, "")
	require.Equal(f.t, store.Stats{}, f.stats(q))
}

// testStatsExactWithoutSweep walks one queue through every transition and
// checks the counts after each, never sweeping (Q5, B4).
func testStatsExactWithoutSweep(f *fixture) {
	q := ref("q")
	long := f.postDrafts(q, store.Draft{Body: []byte("0"), TTL: time.Hour}, store.Draft{Body: []byte("1"), TTL: time.Hour},
		store.Draft{Body: []byte("2"), TTL: time.Hour}, store.Draft{Body: []byte("3"), TTL: time.Hour})
	short := f.postDrafts(q, store.Draft{Body: []byte("s"), TTL: 10 * time.Minute})
	f.counts(q, 5, 0, 0)
	f.postDrafts(q, store.Draft{Body: []byte("d0"), Delay: 30 * time.Minute, TTL: time.Hour},
		store.Draft{Body: []byte("d1"), Delay: 30 * time.Minute, TTL: time.Hour})
	f.counts(q, 5, 0, 2)

	c := f.claim(q, 2)
	require.Equal(f.t, long[:2], ids(c.Messages))
	f.counts(q, 3, 2, 2)
	require.NoError(f.t, f.del(q, c.Claim.ID, long[0]))
	f.counts(q, 3, 1, 2)
	f.release(q, c.Claim.ID, 0)
	f.counts(q, 4, 0, 2)

	c = f.claim(q, 1)
	f.counts(q, 3, 1, 2)
	f.release(q, c.Claim.ID, time.Minute)
	f.counts(q, 3, 0, 3)
	f.advance(time.Minute - time.Nanosecond)
	f.counts(q, 3, 0, 3)
	f.advance(time.Nanosecond)
	f.counts(q, 4, 0, 2)

	c = f.claimWith(store.CreateClaimParams{Queue: q, TTL: 2 * time.Minute, Limit: 2})
	f.counts(q, 2, 2, 2)
	f.advance(2 * time.Minute)
	f.counts(q, 4, 0, 2)

	f.now = base.Add(10 * time.Minute) // the short message expires
	f.counts(q, 3, 0, 2)
	require.Empty(f.t, f.get(q, short...))
	f.now = base.Add(30 * time.Minute) // the delayed ones become free
	f.counts(q, 5, 0, 0)
	f.now = base.Add(time.Hour) // everything expires
	require.Equal(f.t, store.Stats{}, f.stats(q))
}

func testStatsOldestNewest(f *fixture) {
	q := ref("q")
	first := f.postDrafts(q, store.Draft{Body: []byte("a"), TTL: 10 * time.Second})
	t0 := f.now
	f.advance(time.Second)
	second := f.post(q, "b")
	t1 := f.now
	f.advance(time.Second)
	third := f.postDrafts(q, store.Draft{Body: []byte("c"), Delay: time.Minute})
	t2 := f.now
	requireRef := func(want store.ID, at time.Time, got *store.MessageRef, what string) {
		f.t.Helper()
		require.Equal(f.t, want, got.ID, what)
		requireTime(f.t, at, got.Created, what+" Created")
	}
	st := f.stats(q)
	requireRef(first[0], t0, st.Oldest, "Oldest")
	requireRef(third[0], t2, st.Newest, "Newest (delayed messages count)")

	c := f.claim(q, 1)
	require.Equal(f.t, first, ids(c.Messages))
	st = f.stats(q)
	requireRef(first[0], t0, st.Oldest, "Oldest (claimed messages count)")

	require.NoError(f.t, f.del(q, c.Claim.ID, first[0]))
	requireRef(second[0], t1, f.stats(q).Oldest, "Oldest after delete")

	f.post(q, "e")
	f.now = t1.Add(time.Hour) // the default hour-long TTL: b expires, c and e live on
	st = f.stats(q)
	require.EqualValues(f.t, 2, st.Total)
	requireRef(third[0], t2, st.Oldest, "Oldest after expiry, without a sweep")
}

func testPurgeEndsClaimsKeepsMetadata(f *fixture) {
	q := ref("q")
	f.create(q, `{"keep":1}`)
	before := f.post(q, bodies(4)...)
	c := f.claim(q, 2)
	require.NoError(f.t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: q, Now: f.now}))
	require.Equal(f.t, store.Stats{}, f.stats(q))
	require.Empty(f.t, f.all(q))
	require.Empty(f.t, f.get(q, before...))
	f.requireNoClaim(q, c.Claim.ID)
	requireMeta(f.t, `{"keep":1}`, f.queue(q).Metadata)

	after := f.post(q, "x")
	require.Negative(f.t, before[3].Compare(after[0]), "IDs keep increasing after a purge (M2)")
	require.Equal(f.t, after, ids(f.claim(q, 10).Messages))

	missing := ref("missing")
	require.NoError(f.t, f.s.PurgeQueue(f.ctx, store.PurgeQueueParams{Queue: missing, Now: f.now}))
	f.requireNoQueue(missing)
}

func testDeleteQueueRemovesEverything(f *fixture) {
	q := ref("q")
	f.create(q, `{"keep":1}`)
	f.advance(time.Second)
	old := f.postDrafts(q, store.Draft{Body: []byte("a"), DedupID: "d"}, store.Draft{Body: []byte("b")})
	c := f.claim(q, 1)
	del := func() {
		f.t.Helper()
		require.NoError(f.t, f.s.DeleteQueue(f.ctx, store.DeleteQueueParams{Queue: q}))
	}
	del()
	f.requireNoQueue(q)
	_, err := f.s.QueueStats(f.ctx, store.QueueStatsParams{Queue: q, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrNotFound)
	require.Empty(f.t, f.all(q), "a missing queue lists empty")
	require.Empty(f.t, f.get(q, old...), "a missing queue gets empty")
	f.requireNoClaim(q, c.Claim.ID)
	require.Empty(f.t, f.queueNames("p"))
	del() // idempotent

	f.advance(time.Second)
	fresh := f.postDrafts(q, store.Draft{Body: []byte("a"), DedupID: "d"})
	require.NotEqual(f.t, old[0], fresh[0], "dedup entries go with the queue")
	info := f.queue(q)
	requireMeta(f.t, `{}`, info.Metadata)
	requireTime(f.t, f.now, info.Created, "a re-created queue is new")
	f.counts(q, 1, 0, 0)
}
