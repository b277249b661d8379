package storetest

import (
	"fmt"
	"math"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var messageTests = []subtest{
	{"M1/BatchIDsInInputOrder", testBatchIDsInInputOrder},
	{"M1/FailedBatchStoresNothing", testFailedBatchStoresNothing},
	{"M2/IDsIncrease", testIDsIncrease},
	{"M2/IDsIncreaseWhenClockStepsBack", testIDsIncreaseWhenClockStepsBack},
	{"M3/BatchSizeLimit", testBatchSizeLimit},
	{"M3/BodyCopied", testBodyCopied},
	{"M3/BodyOpaqueWithChecksum", testBodyOpaqueWithChecksum},
	{"M4/DefaultTTL", testDefaultTTL},
	{"M4/ExpiryBoundary", testExpiryBoundary},
	{"M4/InvalidTTLRejected", testInvalidTTLRejected},
	{"M4/ClockStepBackRevivesNothing", testClockStepBackRevivesNothing},
	{"M5/DelayedHidden", testDelayedHidden},
	{"M5/NegativeDelayRejected", testNegativeDelayRejected},
}

func testBatchIDsInInputOrder(f *fixture) {
	q := ref("q")
	want := bodies(5)
	got := f.post(q, want...)
	requireIncreasing(f.t, got, "IDs of one batch follow input order")
	msgs := f.list(store.ListMessagesParams{Queue: q})
	require.Equal(f.t, got, ids(msgs))
	for i, m := range msgs {
		require.Equal(f.t, want[i], string(m.Body))
		require.Equal(f.t, want[i], string(f.getOne(q, got[i]).Body))
		requireTime(f.t, f.now, m.Created, "Created")
	}
}

// postErr posts p at Now and returns the error, which the caller expects.
func (f *fixture) postErr(p store.PostParams) error {
	p.Now = f.now
	ids, err := f.s.PostMessages(f.ctx, p)
	if err == nil {
		f.t.Fatalf("PostMessages %v: stored %d messages, want an error", p.Queue, len(ids))
	}
	return err
}

func testFailedBatchStoresNothing(f *fixture) {
	q := ref("new")
	ok := store.Draft{Body: []byte("ok"), DedupID: "d"}
	err := f.postErr(store.PostParams{Queue: q, Messages: []store.Draft{ok, {Body: []byte("x")}, {Body: []byte("bad"), TTL: -1}}})
	require.ErrorIs(f.t, err, store.ErrInvalidTTL)
	err = f.postErr(store.PostParams{Queue: q, Messages: []store.Draft{ok, {Body: []byte("bad"), Delay: -1}}})
	require.ErrorIs(f.t, err, store.ErrInvalidDelay)
	f.requireNoQueue(q)

	small := ref("small")
	f.create(small, `{"_max_messages_post_size":10}`)
	err = f.postErr(store.PostParams{Queue: small, Messages: []store.Draft{ok, {Body: []byte("123456789")}}})
	require.ErrorIs(f.t, err, store.ErrTooLarge)
	require.Equal(f.t, store.Stats{}, f.stats(small))

	// The failed batches recorded no dedup entry either (M10).
	for _, queue := range []store.QueueRef{q, small} {
		f.postDrafts(queue, ok)
		f.counts(queue, 1, 0, 0)
	}
}

func testIDsIncrease(f *fixture) {
	q := ref("q")
	var all []store.ID
	for i := range 10 {
		if i%3 == 0 {
			f.advance(time.Millisecond)
		}
		all = append(all, f.post(q, "one")...)
		all = append(all, f.post(q, "a", "b", "c")...)
	}
	requireIncreasing(f.t, all, "IDs in commit order")
	require.Equal(f.t, all, ids(f.all(q)))
}

func testIDsIncreaseWhenClockStepsBack(f *fixture) {
	q := ref("q")
	f.now = base.Add(time.Hour)
	all := f.post(q, "late")
	for _, at := range []time.Time{base, base.Add(-24 * time.Hour), base.Add(time.Minute)} {
		f.now = at
		all = append(all, f.post(q, "a", "b")...)
	}
	requireIncreasing(f.t, all, "IDs increase even when the clock steps back")
	require.Equal(f.t, all, ids(f.all(q)))
}

func testBatchSizeLimit(f *fixture) {
	q := ref("q")
	f.create(q, `{"_max_messages_post_size":10}`)
	f.post(q, "1234", "123456")
	for _, batch := range [][]string{{"1234", "1234567"}, {"12345678901"}} {
		drafts := make([]store.Draft, len(batch))
		for i, b := range batch {
			drafts[i] = store.Draft{Body: []byte(b)}
		}
		err := f.postErr(store.PostParams{Queue: q, Messages: drafts})
		require.ErrorIs(f.t, err, store.ErrTooLarge, "batch %q", batch)
	}
	f.counts(q, 2, 0, 0)
}

func testBodyCopied(f *fixture) {
	q := ref("q")
	body := []byte("hello")
	id := f.postDrafts(q, store.Draft{Body: body})[0]
	body[0] = 'X'
	requireHello := func(what string) {
		f.t.Helper()
		require.Equal(f.t, "hello", string(f.getOne(q, id).Body), what)
	}
	requireHello("the store kept the caller's slice")

	scribble := func(msgs []store.Message) {
		for _, m := range msgs {
			m.Body[0] = 'Y'
		}
	}
	scribble(f.get(q, id))
	requireHello("GetMessages returned the stored slice")
	scribble(f.list(store.ListMessagesParams{Queue: q}))
	requireHello("ListMessages returned the stored slice")
	c := f.claim(q, 1)
	scribble(c.Messages)
	requireHello("CreateClaim returned the stored slice")
	_, held := f.getClaim(q, c.Claim.ID)
	scribble(held)
	requireHello("GetClaim returned the stored slice")
}

func testBodyOpaqueWithChecksum(f *fixture) {
	q := ref("q")
	body := make([]byte, 256)
	for i := range body {
		body[i] = byte(i)
	}
	id := f.postDrafts(q, store.Draft{Body: body})[0]
	for what, m := range map[string]store.Message{
		"GetMessages":  f.getOne(q, id),
		"ListMessages": f.list(store.ListMessagesParams{Queue: q})[0],
		"CreateClaim":  f.claim(q, 1).Messages[0],
	} {
		require.Equal(f.t, body, m.Body, what)
		require.Equal(f.t, store.Checksum(body), m.Checksum, what)
	}
}

func testDefaultTTL(f *fixture) {
	q := ref("q")
	plain := f.post(q, "x")[0]
	param := f.postParams(store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("y")}}, DefaultTTL: 2 * time.Minute})[0]
	own := f.postParams(store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("z"), TTL: time.Second}}, DefaultTTL: 2 * time.Minute})[0]
	requireTime(f.t, f.now.Add(store.DefaultMessageTTL), f.getOne(q, plain).Expires, "store default")
	requireTime(f.t, f.now.Add(2*time.Minute), f.getOne(q, param).Expires, "PostParams.DefaultTTL")
	requireTime(f.t, f.now.Add(time.Second), f.getOne(q, own).Expires, "Draft.TTL")
}

// testExpiryBoundary checks that a message lives until just before Expires
// and is gone from every read at Expires, with no sweep (M4, B4). Claim and
// pop consume what they see, so each instant gets its own queues.
func testExpiryBoundary(f *fixture) {
	const ttl = 10 * time.Second
	offsets := []time.Duration{-time.Nanosecond, 0, time.Nanosecond}
	read := ref("read")
	id := f.postDrafts(read, store.Draft{Body: []byte("x"), TTL: ttl})[0]
	expires := f.now.Add(ttl)
	requireTime(f.t, expires, f.getOne(read, id).Expires, "Expires")
	for i := range offsets {
		f.postDrafts(ref(fmt.Sprint("claim", i)), store.Draft{Body: []byte("x"), TTL: ttl})
		f.postDrafts(ref(fmt.Sprint("pop", i)), store.Draft{Body: []byte("x"), TTL: ttl})
	}
	for i, off := range offsets {
		f.now = expires.Add(off)
		n := 0
		if off < 0 {
			n = 1
		}
		what := fmt.Sprintf("at Expires%+v", off)
		require.Len(f.t, f.visible(read), n, "ListMessages %s", what)
		require.Len(f.t, f.get(read, id), n, "GetMessages %s", what)
		require.EqualValues(f.t, n, f.stats(read).Total, "QueueStats %s", what)
		require.Len(f.t, f.claim(ref(fmt.Sprint("claim", i)), 10).Messages, n, "CreateClaim %s", what)
		require.Len(f.t, f.pop(ref(fmt.Sprint("pop", i)), 10), n, "PopMessages %s", what)
	}
}

func testInvalidTTLRejected(f *fixture) {
	q := ref("q")
	huge := time.Duration(math.MaxInt64)
	for what, p := range map[string]store.PostParams{
		"negative TTL":        {Queue: q, Messages: []store.Draft{{Body: []byte("x"), TTL: -time.Nanosecond}}},
		"overflowing TTL":     {Queue: q, Messages: []store.Draft{{Body: []byte("x"), TTL: huge}}},
		"overflowing default": {Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, DefaultTTL: huge},
	} {
		require.ErrorIs(f.t, f.postErr(p), store.ErrInvalidTTL, what)
	}
	f.requireNoQueue(q)

	// The largest whole-second default the metadata allows overflows too.
	f.create(q, fmt.Sprintf(`{"_default_message_ttl":%d}`, math.MaxInt64/int64(time.Second)))
	err := f.postErr(store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}})
	require.ErrorIs(f.t, err, store.ErrInvalidTTL, "overflowing queue default")
	require.Equal(f.t, store.Stats{}, f.stats(q))
}

// testClockStepBackRevivesNothing checks that a store keeps the latest Now
// it has seen: a message that expired stays expired when the caller's clock
// steps back (params.go).
func testClockStepBackRevivesNothing(f *fixture) {
	q := ref("q")
	id := f.postDrafts(q, store.Draft{Body: []byte("x"), TTL: 10 * time.Second})[0]
	f.advance(10 * time.Second)
	require.EqualValues(f.t, 0, f.stats(q).Total)
	f.now = base.Add(5 * time.Second)
	require.EqualValues(f.t, 0, f.stats(q).Total, "QueueStats after the clock stepped back")
	require.Empty(f.t, f.get(q, id), "GetMessages after the clock stepped back")
	require.Empty(f.t, f.all(q), "ListMessages after the clock stepped back")
	require.Empty(f.t, f.claim(q, 10).Messages, "CreateClaim after the clock stepped back")
	require.Empty(f.t, f.pop(q, 10), "PopMessages after the clock stepped back")
}

func testDelayedHidden(f *fixture) {
	q := ref("q")
	const delay = 30 * time.Second
	delayed := f.postDrafts(q, store.Draft{Body: []byte("d"), Delay: delay})[0]
	free := f.post(q, "f")[0]
	visibleAt := f.now.Add(delay)
	requireTime(f.t, visibleAt, f.getOne(q, delayed).VisibleAt, "VisibleAt")
	f.counts(q, 1, 0, 1)
	require.Equal(f.t, []store.ID{free}, f.visible(q))
	require.Equal(f.t, []store.ID{delayed, free}, ids(f.list(store.ListMessagesParams{Queue: q, IncludeDelayed: true})))

	c := f.claim(q, 10)
	require.Equal(f.t, []store.ID{free}, ids(c.Messages), "claims skip delayed messages")
	require.Empty(f.t, f.pop(q, 10), "pop skips delayed messages")

	f.now = visibleAt.Add(-time.Nanosecond)
	require.Empty(f.t, f.visible(q))
	require.Empty(f.t, f.claim(q, 10).Messages)
	f.now = visibleAt
	require.Equal(f.t, []store.ID{delayed}, f.visible(q))
	f.counts(q, 1, 1, 0)
	require.Equal(f.t, []store.ID{delayed}, ids(f.pop(q, 10)))
}

func testNegativeDelayRejected(f *fixture) {
	q := ref("q")
	err := f.postErr(store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x"), Delay: -time.Second}}})
	require.ErrorIs(f.t, err, store.ErrInvalidDelay)
	f.requireNoQueue(q)
}
