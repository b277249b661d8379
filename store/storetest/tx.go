package storetest

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// The subtests of store.Transactor (X1). A store that does not implement
// it skips them.
var txTests = []subtest{
	{"X1/ConsumeTransformProduce", testTxConsumeTransformProduce},
	{"X1/FailedOpChangesNothing", testTxFailedOpChangesNothing},
	{"X1/OpsSeeEarlierOps", testTxOpsSeeEarlierOps},
	{"X1/DedupWithinTransaction", testTxDedupWithinTransaction},
	{"X1/PostCreatesQueues", testTxPostCreatesQueues},
	{"X1/NoOpsInvalid", testTxNoOpsInvalid},
	{"X1/SurvivesReopen", testTxSurvivesReopen},
	{"X1/ConcurrentTransfersConserveMessages", testTxConcurrentTransfers},
	{"X1/RacesQueueCreation", testTxRacesQueueCreation},
}

// transactor returns the store as a store.Transactor, or skips the
// subtest. It asserts afresh each time, since Reopen replaces the store.
func (f *fixture) transactor() store.Transactor {
	f.t.Helper()
	t, ok := f.s.(store.Transactor)
	if !ok {
		f.t.Skip("store does not implement store.Transactor")
	}
	return t
}

// tx runs ops as one transaction at the fixture's Now.
func (f *fixture) tx(ops ...store.TxOp) ([][]store.ID, error) {
	f.t.Helper()
	return f.transactor().Transact(f.ctx, store.TxParams{Ops: ops, Now: f.now})
}

// mustTx runs ops that must commit and checks the result's shape: one
// entry per op, an ID per draft for a post, nil for a delete.
func (f *fixture) mustTx(ops ...store.TxOp) [][]store.ID {
	f.t.Helper()
	out, err := f.tx(ops...)
	require.NoError(f.t, err, "Transact")
	require.Len(f.t, out, len(ops), "Transact returns one entry per op")
	for i, op := range ops {
		if len(op.Post) > 0 {
			require.Len(f.t, out[i], len(op.Post), "op %d: one ID per draft", i)
		} else {
			require.Nil(f.t, out[i], "op %d: a delete returns no IDs", i)
		}
	}
	return out
}

// postOp posts one message per body to q.
func postOp(q store.QueueRef, bodies ...string) store.TxOp {
	op := store.TxOp{Queue: q}
	for _, b := range bodies {
		op.Post = append(op.Post, store.Draft{Body: []byte(b)})
	}
	return op
}

// dedupOp posts one message with a DedupID to q.
func dedupOp(q store.QueueRef, body, key string) store.TxOp {
	return store.TxOp{Queue: q, Post: []store.Draft{{Body: []byte(body), DedupID: key}}}
}

// delOp deletes ids from q, under claim when it is not zero.
func delOp(q store.QueueRef, claim store.ID, ids ...store.ID) store.TxOp {
	return store.TxOp{Queue: q, Delete: ids, Claim: claim}
}

// testTxConsumeTransformProduce is what X1 is for: a consumer deletes what
// it claimed from one queue and posts its result to another in one step,
// and a retry of the same step (with a DedupID) adds nothing.
func testTxConsumeTransformProduce(f *fixture) {
	f.transactor()
	in, out := ref("in"), ref("out")
	m := f.post(in, "job0", "job1")
	c := f.claim(in, 1)
	require.Equal(f.t, m[:1], ids(c.Messages))

	step := []store.TxOp{
		delOp(in, c.Claim.ID, m[0]),
		{Queue: out, Post: []store.Draft{{Body: []byte("result0"), DedupID: "job0"}}},
	}
	got := f.mustTx(step...)
	require.Empty(f.t, f.get(in, m[0]), "the claimed job is gone")
	f.requireNoClaim(in, c.Claim.ID)
	f.counts(in, 1, 0, 0)
	produced := f.all(out)
	require.Equal(f.t, got[1], ids(produced), "the result is in the output queue")
	require.Equal(f.t, "result0", string(produced[0].Body))
	f.counts(out, 1, 0, 0)

	// The consumer did not hear back and runs the step again: its claim
	// no longer holds the job (it is gone), so the step fails whole and
	// the result is not posted twice, even without a DedupID (M8, C3).
	f.advance(time.Second)
	noDedup := []store.TxOp{delOp(in, c.Claim.ID, m[0]), postOp(out, "result0")}
	for _, again := range [][]store.TxOp{step, noDedup} {
		_, err := f.tx(again...)
		require.ErrorIs(f.t, err, store.ErrMessageGone)
		require.ErrorContains(f.t, err, "transaction op 0:")
		f.counts(out, 1, 0, 0)
		f.counts(in, 1, 0, 0)
	}
}

// testTxFailedOpChangesNothing runs transactions whose last op but one
// fails, after ops that would each change the store: the store stays
// exactly as it was, the error names the failing op, no queue appears and
// no ID or dedup entry is used up where anyone can see it.
func testTxFailedOpChangesNothing(f *fixture) {
	f.transactor()
	a, b, fresh, after := ref("a"), ref("b"), ref("fresh"), ref("after")
	f.create(a, `{"_max_messages_post_size":100}`)
	m := f.post(a, "a0", "a1", "a2", "a3", "a4", "a5")
	stale := f.claimWith(store.CreateClaimParams{Queue: a, TTL: time.Second, Limit: 1}).Claim.ID // a0
	f.advance(time.Second)
	c := f.claim(a, 2).Claim.ID // a0 again, and a1
	d := f.claim(a, 1).Claim.ID // a2
	dup := f.postDrafts(b, store.Draft{Body: []byte("b0"), DedupID: "k"})[0]
	f.postDrafts(b, store.Draft{Body: []byte("late"), Delay: time.Hour})

	good := []store.TxOp{
		postOp(fresh, "f0", "f1"),
		dedupOp(b, "n", "new"),
		dedupOp(b, "again", "k"),
		delOp(a, store.ID{}, m[3]),
		delOp(a, c, m[1]),
		postOp(a, "ok"),
	}
	huge := time.Duration(math.MaxInt64)
	post := func(q store.QueueRef, d store.Draft) store.TxOp { return store.TxOp{Queue: q, Post: []store.Draft{d}} }
	cases := []struct {
		what string
		op   store.TxOp
		want error
	}{
		{"delete under a stale claim, message re-claimed", delOp(a, stale, m[0]), store.ErrClaimMismatch},
		{"delete under a stale claim, message free", delOp(a, stale, m[4]), store.ErrNotClaimed},
		{"delete a claimed message with no claim", delOp(a, store.ID{}, m[2]), store.ErrClaimMismatch},
		{"delete a message under another claim", delOp(a, d, m[0]), store.ErrClaimMismatch},
		{"delete a free message under a live claim", delOp(a, c, m[5]), store.ErrNotClaimed},
		{"delete missing then claimed, no claim", delOp(a, store.ID{}, fakeID(1), m[2]), store.ErrClaimMismatch},
		{"post over the queue's post size", post(a, store.Draft{Body: make([]byte, 101)}), store.ErrTooLarge},
		{"post negative TTL", post(a, store.Draft{Body: []byte("x"), TTL: -1}), store.ErrInvalidTTL},
		{"post overflowing TTL", post(a, store.Draft{Body: []byte("x"), TTL: huge}), store.ErrInvalidTTL},
		{"post overflowing TTL to a new queue", post(fresh, store.Draft{Body: []byte("x"), TTL: huge}), store.ErrInvalidTTL},
		{"post negative delay", post(b, store.Draft{Body: []byte("x"), Delay: -1}), store.ErrInvalidDelay},
		{"post overflowing delay", post(b, store.Draft{Body: []byte("x"), Delay: huge}), store.ErrInvalidDelay},
		{"post to a bad queue name", postOp(ref("a/b"), "x"), store.ErrInvalidName},
		{"delete in a bad project", delOp(store.QueueRef{Project: "x/y", Name: "a"}, store.ID{}, m[0]), store.ErrInvalidName},
		{"post and delete in one op", store.TxOp{Queue: a, Post: []store.Draft{{Body: []byte("x")}}, Delete: m[5:]}, store.ErrInvalid},
		{"neither post nor delete", store.TxOp{Queue: a}, store.ErrInvalid},
		{"post with a claim", store.TxOp{Queue: b, Post: []store.Draft{{Body: []byte("x")}}, Claim: c}, store.ErrInvalid},
	}

	before := f.snapshots(a, b)
	names := f.queueNames("p")
	requireUnchanged := func(what string) {
		f.t.Helper()
		require.Equal(f.t, before, f.snapshots(a, b), "%s changed the store", what)
		require.Equal(f.t, names, f.queueNames("p"), "%s changed the queue list", what)
		f.requireNoQueue(fresh)
		f.requireNoQueue(after)
		f.requireHeld(a, c, m[0], m[1])
		f.requireHeld(a, d, m[2])
	}
	for _, tc := range cases {
		ops := append(append([]store.TxOp{}, good...), tc.op, postOp(after, "x"))
		var err error
		require.NotPanics(f.t, func() { _, err = f.tx(ops...) }, tc.what)
		require.ErrorIs(f.t, err, tc.want, tc.what)
		require.ErrorContains(f.t, err, fmt.Sprintf("transaction op %d:", len(good)), "%s: the error names the op", tc.what)
		requireUnchanged(tc.what)
	}
	_, err := f.transactor().Transact(f.ctx, store.TxParams{Ops: good, DedupWindow: -time.Second, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrInvalidTTL, "negative dedup window")
	require.ErrorContains(f.t, err, "transaction op 1:", "the first post with a DedupID fails")
	requireUnchanged("a negative dedup window")

	// Nothing the refused transactions did shows: the next ID is newer
	// than every ID before, and DedupID "new" was never recorded.
	newest := before[0].Stats.Newest.ID
	if before[1].Stats.Newest.ID.Compare(newest) > 0 {
		newest = before[1].Stats.Newest.ID
	}
	next := f.postDrafts(b, store.Draft{Body: []byte("n"), DedupID: "new"})[0]
	require.Positive(f.t, next.Compare(newest), "IDs still increase after refused transactions (M2)")

	// The good ops alone commit, so the failures above were the failing
	// op's alone.
	got := f.mustTx(good...)
	require.Equal(f.t, next, got[1][0], "DedupID \"new\" now names the message posted after")
	require.Equal(f.t, dup, got[2][0])
	require.Equal(f.t, []string{"a", "b", "fresh"}, f.queueNames("p"))
	require.Empty(f.t, f.get(a, m[1], m[3]))
	f.requireHeld(a, c, m[0])
}

// testTxOpsSeeEarlierOps checks that each op runs on the state the ops
// before it leave, as separate calls in that order would.
func testTxOpsSeeEarlierOps(f *fixture) {
	f.transactor()
	q, n := ref("q"), ref("new")

	// Two posts to a queue the first creates: IDs in op order (M2).
	got := f.mustTx(postOp(n, "n0"), postOp(n, "n1", "n2"))
	all := append(append([]store.ID{}, got[0]...), got[1]...)
	requireIncreasing(f.t, all, "IDs increase in op order")
	require.Equal(f.t, all, f.visible(n))

	// A post deduplicated to a message that exists returns its ID; a
	// later op deletes it.
	x := f.postDrafts(q, store.Draft{Body: []byte("x"), DedupID: "x"})[0]
	got = f.mustTx(dedupOp(q, "x again", "x"), delOp(q, store.ID{}, x))
	require.Equal(f.t, x, got[0][0])
	require.Empty(f.t, f.get(q, x))

	// A message deleted under its claim is missing for a later delete,
	// which therefore needs no claim (M8: missing IDs are skipped).
	m := f.post(q, "m0", "m1")
	c := f.claim(q, 2)
	f.mustTx(delOp(q, c.Claim.ID, m[0]), delOp(q, store.ID{}, m[0]), delOp(q, c.Claim.ID, m[1]))
	require.Empty(f.t, f.get(q, m...))
	f.requireNoClaim(q, c.Claim.ID)

	// The claim a delete ends holds nothing after it: a later delete
	// with that claim finds the message gone, and the transaction fails
	// whole (C3).
	m = f.post(q, "m2")
	c = f.claim(q, 1)
	_, err := f.tx(delOp(q, c.Claim.ID, m[0]), delOp(q, c.Claim.ID, m[0]))
	require.ErrorIs(f.t, err, store.ErrMessageGone)
	require.ErrorContains(f.t, err, "transaction op 1:")
	f.requireHeld(q, c.Claim.ID, m[0])
	f.mustTx(delOp(q, c.Claim.ID, m[0], m[0]))
	f.counts(q, 0, 0, 0)

	// A delete of a message the same transaction leaves claimed still
	// needs the claim: the earlier ops on other messages change nothing.
	m = f.post(q, "m3", "m4")
	c = f.claim(q, 2)
	_, err = f.tx(delOp(q, c.Claim.ID, m[0]), delOp(q, store.ID{}, m[1]))
	require.ErrorIs(f.t, err, store.ErrClaimMismatch)
	f.requireHeld(q, c.Claim.ID, m...)
}

// testTxDedupWithinTransaction applies M10 inside a transaction: repeats
// within one post and across posts to one queue get the first ID, the
// same DedupID on another queue does not, and a later call still sees the
// entries.
func testTxDedupWithinTransaction(f *fixture) {
	f.transactor()
	q, other := ref("q"), ref("other")
	got := f.mustTx(
		store.TxOp{Queue: q, Post: []store.Draft{{Body: []byte("a"), DedupID: "k"}, {Body: []byte("b"), DedupID: "k"}}},
		dedupOp(q, "c", "k"),
		dedupOp(other, "d", "k"),
		dedupOp(q, "e", "j"),
	)
	k := got[0][0]
	require.Equal(f.t, []store.ID{k, k}, got[0], "a repeat inside one post")
	require.Equal(f.t, k, got[1][0], "a repeat in a later op")
	require.NotEqual(f.t, k, got[2][0], "dedup is per queue")
	require.NotEqual(f.t, k, got[3][0])
	require.Equal(f.t, "a", string(f.getOne(q, k).Body))
	f.counts(q, 2, 0, 0)
	f.counts(other, 1, 0, 0)
	require.Equal(f.t, k, f.dedup(q, "f", "k", 0), "a later post sees the transaction's entry")
	require.Equal(f.t, got[3][0], f.dedup(q, "g", "j", 0))
}

// testTxPostCreatesQueues applies Q2 to posts in a transaction, in any
// project, and leaves queues that only deletes name uncreated.
func testTxPostCreatesQueues(f *fixture) {
	f.transactor()
	one, two := ref("one"), store.QueueRef{Project: "other", Name: "two"}
	f.mustTx(delOp(ref("ghost"), store.ID{}, fakeID(1)), postOp(one, "x"), postOp(two, "y"), delOp(one, store.ID{}, fakeID(2)))
	for _, q := range []store.QueueRef{one, two} {
		info := f.queue(q)
		requireMeta(f.t, `{}`, info.Metadata)
		requireTime(f.t, f.now, info.Created, "Created")
		f.counts(q, 1, 0, 0)
	}
	require.Equal(f.t, []string{"one"}, f.queueNames("p"))
	f.requireNoQueue(ref("ghost"))
}

func testTxNoOpsInvalid(f *fixture) {
	f.transactor()
	for _, ops := range [][]store.TxOp{nil, {}} {
		_, err := f.tx(ops...)
		require.ErrorIs(f.t, err, store.ErrInvalid)
	}
}

func testTxSurvivesReopen(f *fixture) {
	f.transactor()
	f.requireReopen()
	in, out := ref("in"), ref("out")
	m := f.post(in, "a", "b")
	c := f.claim(in, 2)
	got := f.mustTx(delOp(in, c.Claim.ID, m[0]), dedupOp(out, "r", "a"))
	f.reopen()
	f.transactor()
	require.Equal(f.t, m[1:], ids(f.all(in)))
	f.requireHeld(in, c.Claim.ID, m[1])
	require.Equal(f.t, got[1], ids(f.all(out)))
	again := f.mustTx(dedupOp(out, "r", "a"), postOp(out, "s"))
	require.Equal(f.t, got[1], again[0], "dedup entries of a transaction survive")
	require.Positive(f.t, again[1][0].Compare(got[1][0]), "IDs increase across a reopen")
}

// testTxConcurrentTransfers moves messages back and forth between two
// queues from several goroutines at once, each move a claim and a
// transaction that deletes under it and posts the body to the other queue
// (so transactions lock the two queues from both ends). No move may lose or
// duplicate a message, and none may deadlock.
func testTxConcurrentTransfers(f *fixture) {
	tr := f.transactor()
	const workers, moves, msgs = 8, 50, 20
	qs := [2]store.QueueRef{ref("left"), ref("right")}
	var want []string
	for i := range msgs {
		want = append(want, fmt.Sprint("m", i))
	}
	f.post(qs[0], want[:msgs/2]...)
	f.post(qs[1], want[msgs/2:]...)

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range moves {
				from, to := qs[(w+i)%2], qs[(w+i+1)%2]
				res, err := f.s.CreateClaim(f.ctx, store.CreateClaimParams{Queue: from, TTL: time.Hour, Limit: 2, Now: f.now})
				if err != nil {
					errs <- err
					return
				}
				if len(res.Messages) == 0 {
					continue
				}
				ops := []store.TxOp{delOp(from, res.Claim.ID, ids(res.Messages)...), {Queue: to}}
				for _, m := range res.Messages {
					ops[1].Post = append(ops[1].Post, store.Draft{Body: m.Body})
				}
				if _, err := tr.Transact(f.ctx, store.TxParams{Ops: ops, Now: f.now}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(f.t, err)
	}
	var got []string
	for _, q := range qs {
		for _, m := range f.all(q) {
			got = append(got, string(m.Body))
		}
		f.counts(q, int64(len(f.all(q))), 0, 0)
	}
	require.ElementsMatch(f.t, want, got, "every message is in exactly one queue")
}

// testTxRacesQueueCreation runs a transaction that posts to a new queue
// while another call creates that queue with a post size limit the post
// breaks. Whichever goes first, the outcome is one of the two orders (Q2,
// M3): the post lands in a queue created with no metadata and the create
// reports that the queue existed, or the create wins and the post fails
// with ErrTooLarge, changing nothing.
func testTxRacesQueueCreation(f *fixture) {
	tr := f.transactor()
	const rounds = 50
	for i := range rounds {
		q, side := ref(fmt.Sprint("q", i)), ref(fmt.Sprint("side", i))
		var (
			wg      sync.WaitGroup
			created bool
			cerr    error
			txErr   error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			created, cerr = f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(`{"_max_messages_post_size":5}`), Now: f.now})
		})
		wg.Go(func() {
			<-start
			_, txErr = tr.Transact(f.ctx, store.TxParams{Now: f.now, Ops: []store.TxOp{postOp(side, "s"), postOp(q, "too long")}})
		})
		close(start)
		wg.Wait()
		require.NoError(f.t, cerr)
		if created {
			require.ErrorIs(f.t, txErr, store.ErrTooLarge, "round %d: the create went first", i)
			require.ErrorContains(f.t, txErr, "transaction op 1:")
			requireMeta(f.t, `{"_max_messages_post_size":5}`, f.queue(q).Metadata)
			f.counts(q, 0, 0, 0)
			f.requireNoQueue(side)
			continue
		}
		require.NoError(f.t, txErr, "round %d: the transaction went first", i)
		requireMeta(f.t, `{}`, f.queue(q).Metadata)
		f.counts(q, 1, 0, 0)
		f.counts(side, 1, 0, 0)
	}
}
