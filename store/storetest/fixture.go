package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

// base is every subtest's starting clock. A fixed instant keeps failures
// reproducible; nothing in the suite reads the wall clock.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Claim parameters for subtests that do not care: a minute-long claim with
// no grace leaves the default hour-long message lifetimes untouched (C2).
const (
	claimTTL = time.Minute
	pageSize = 1000
)

// fixture is one subtest's store and clock. Its helpers fail the subtest on
// any unexpected error, so checks read as a list of facts.
type fixture struct {
	t    *testing.T
	s    store.Store
	opts Options
	ctx  context.Context
	now  time.Time
}

func newFixture(t *testing.T, newStore func(tb testing.TB) store.Store, opts Options) *fixture {
	f := &fixture{t: t, s: newStore(t), opts: opts, ctx: t.Context(), now: base}
	require.NotNil(t, f.s, "newStore returned nil")
	t.Cleanup(func() {
		// f.s, not the first store: Reopen may have replaced it.
		if err := f.s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// advance moves the caller's clock forward.
func (f *fixture) advance(d time.Duration) { f.now = f.now.Add(d) }

// ref names a queue in the project most subtests use.
func ref(name string) store.QueueRef { return store.QueueRef{Project: "p", Name: name} }

// create makes a new queue with the given metadata ("" means none).
func (f *fixture) create(q store.QueueRef, meta string) {
	f.t.Helper()
	created, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(meta), Now: f.now})
	require.NoError(f.t, err, "CreateQueue %v", q)
	require.True(f.t, created, "CreateQueue %v: queue already existed", q)
}

// raw turns "" into nil metadata, which stores read as {}.
func raw(meta string) json.RawMessage {
	if meta == "" {
		return nil
	}
	return json.RawMessage(meta)
}

// post posts one message per body, in one batch, with default TTL and delay.
func (f *fixture) post(q store.QueueRef, bodies ...string) []store.ID {
	f.t.Helper()
	drafts := make([]store.Draft, len(bodies))
	for i, b := range bodies {
		drafts[i] = store.Draft{Body: []byte(b)}
	}
	return f.postDrafts(q, drafts...)
}

// postDrafts posts drafts in one batch.
func (f *fixture) postDrafts(q store.QueueRef, drafts ...store.Draft) []store.ID {
	f.t.Helper()
	return f.postParams(store.PostParams{Queue: q, Messages: drafts})
}

// postParams posts p at the fixture's Now and checks the ID count (M1).
func (f *fixture) postParams(p store.PostParams) []store.ID {
	f.t.Helper()
	p.Now = f.now
	ids, err := f.s.PostMessages(f.ctx, p)
	require.NoError(f.t, err, "PostMessages %v", p.Queue)
	require.Len(f.t, ids, len(p.Messages), "PostMessages returns one ID per draft")
	return ids
}

// bodies makes n distinct bodies "m0", "m1", ….
func bodies(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%d", i)
	}
	return out
}

// claim claims up to limit messages for claimTTL with no grace.
func (f *fixture) claim(q store.QueueRef, limit int) store.ClaimResult {
	f.t.Helper()
	return f.claimWith(store.CreateClaimParams{Queue: q, TTL: claimTTL, Limit: limit})
}

// claimWith creates a claim at the fixture's Now and checks that the result
// is consistent: a claim exists exactly when messages were claimed, and
// each claimed message names it (C1).
func (f *fixture) claimWith(p store.CreateClaimParams) store.ClaimResult {
	f.t.Helper()
	p.Now = f.now
	res, err := f.s.CreateClaim(f.ctx, p)
	require.NoError(f.t, err, "CreateClaim %v", p.Queue)
	require.LessOrEqual(f.t, len(res.Messages), p.Limit, "CreateClaim took more than Limit")
	if len(res.Messages) == 0 {
		require.True(f.t, res.Claim.ID.IsZero(), "CreateClaim made a claim without messages")
		return res
	}
	require.False(f.t, res.Claim.ID.IsZero(), "CreateClaim claimed messages without a claim ID")
	// Updated, not f.now: a store keeps time from going backwards.
	require.False(f.t, res.Claim.Updated.Before(f.now), "claim Updated %v before Now %v", res.Claim.Updated, f.now)
	requireTime(f.t, res.Claim.Updated.Add(p.TTL), res.Claim.Expires, "claim Expires")
	for _, m := range res.Messages {
		require.Equal(f.t, res.Claim.ID, m.ClaimID, "claimed message %v names its claim", m.ID)
	}
	return res
}

// release ends a claim, freeing its messages after delay (C5).
func (f *fixture) release(q store.QueueRef, claim store.ID, delay time.Duration) {
	f.t.Helper()
	err := f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: claim, Delay: delay, Now: f.now})
	require.NoError(f.t, err, "ReleaseClaim %v", claim)
}

// getClaim returns a live claim and its messages.
func (f *fixture) getClaim(q store.QueueRef, claim store.ID) (store.ClaimInfo, []store.Message) {
	f.t.Helper()
	info, msgs, err := f.s.GetClaim(f.ctx, store.GetClaimParams{Queue: q, Claim: claim, Now: f.now})
	require.NoError(f.t, err, "GetClaim %v", claim)
	return info, msgs
}

// requireNoClaim checks that claim is gone, expired or never was (C4).
func (f *fixture) requireNoClaim(q store.QueueRef, claim store.ID) {
	f.t.Helper()
	_, _, err := f.s.GetClaim(f.ctx, store.GetClaimParams{Queue: q, Claim: claim, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrClaimNotFound, "GetClaim %v", claim)
	_, err = f.s.RenewClaim(f.ctx, store.RenewClaimParams{Queue: q, Claim: claim, TTL: claimTTL, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrClaimNotFound, "RenewClaim %v", claim)
}

// del deletes ids, under claim when it is not zero, and returns the error.
func (f *fixture) del(q store.QueueRef, claim store.ID, ids ...store.ID) error {
	return f.s.DeleteMessages(f.ctx, store.DeleteMessagesParams{Queue: q, IDs: ids, Claim: claim, Now: f.now})
}

// list lists at the fixture's Now; a zero Limit means one big page.
func (f *fixture) list(p store.ListMessagesParams) []store.Message {
	f.t.Helper()
	p.Now = f.now
	if p.Limit == 0 {
		p.Limit = pageSize
	}
	msgs, err := f.s.ListMessages(f.ctx, p)
	require.NoError(f.t, err, "ListMessages %v", p.Queue)
	requireIncreasing(f.t, ids(msgs), "ListMessages is oldest first")
	return msgs
}

// visible lists what a plain listing shows: free, undelayed messages.
func (f *fixture) visible(q store.QueueRef) []store.ID {
	f.t.Helper()
	return ids(f.list(store.ListMessagesParams{Queue: q}))
}

// all lists every unexpired message, claimed and delayed ones too.
func (f *fixture) all(q store.QueueRef) []store.Message {
	f.t.Helper()
	return f.list(store.ListMessagesParams{Queue: q, IncludeClaimed: true, IncludeDelayed: true})
}

// get fetches messages by ID.
func (f *fixture) get(q store.QueueRef, want ...store.ID) []store.Message {
	f.t.Helper()
	msgs, err := f.s.GetMessages(f.ctx, store.GetMessagesParams{Queue: q, IDs: want, Now: f.now})
	require.NoError(f.t, err, "GetMessages %v", q)
	return msgs
}

// getOne fetches one message that must exist.
func (f *fixture) getOne(q store.QueueRef, id store.ID) store.Message {
	f.t.Helper()
	msgs := f.get(q, id)
	require.Len(f.t, msgs, 1, "GetMessages %v", id)
	return msgs[0]
}

// pop pops up to n messages.
func (f *fixture) pop(q store.QueueRef, n int) []store.Message {
	f.t.Helper()
	msgs, err := f.s.PopMessages(f.ctx, store.PopParams{Queue: q, Limit: n, Now: f.now})
	require.NoError(f.t, err, "PopMessages %v", q)
	require.LessOrEqual(f.t, len(msgs), n, "PopMessages took more than Limit")
	return msgs
}

// stats returns a queue's stats and checks the Q5 invariants that hold for
// every queue: the counts add up, and Oldest/Newest are set exactly when
// there is a message.
func (f *fixture) stats(q store.QueueRef) store.Stats {
	f.t.Helper()
	st, err := f.s.QueueStats(f.ctx, store.QueueStatsParams{Queue: q, Now: f.now})
	require.NoError(f.t, err, "QueueStats %v", q)
	require.Equal(f.t, st.Total, st.Free+st.Claimed+st.Delayed, "Free+Claimed+Delayed == Total: %+v", st)
	if st.Total == 0 {
		require.Nil(f.t, st.Oldest, "Oldest of an empty queue")
		require.Nil(f.t, st.Newest, "Newest of an empty queue")
	} else {
		require.NotNil(f.t, st.Oldest, "Oldest of a queue with messages")
		require.NotNil(f.t, st.Newest, "Newest of a queue with messages")
		require.LessOrEqual(f.t, st.Oldest.ID.Compare(st.Newest.ID), 0, "Oldest after Newest")
	}
	return st
}

// counts checks a queue's Free, Claimed and Delayed counts at Now (Q5).
func (f *fixture) counts(q store.QueueRef, free, claimed, delayed int64) {
	f.t.Helper()
	st := f.stats(q)
	require.Equal(f.t, []int64{free, claimed, delayed}, []int64{st.Free, st.Claimed, st.Delayed},
		"stats [free claimed delayed] at %v", f.now.Sub(base))
}

// queue returns a queue's info, which must exist.
func (f *fixture) queue(q store.QueueRef) store.QueueInfo {
	f.t.Helper()
	info, err := f.s.GetQueue(f.ctx, store.GetQueueParams{Queue: q})
	require.NoError(f.t, err, "GetQueue %v", q)
	require.Equal(f.t, q.Name, info.Name)
	return info
}

// requireNoQueue checks that a queue does not exist.
func (f *fixture) requireNoQueue(q store.QueueRef) {
	f.t.Helper()
	_, err := f.s.GetQueue(f.ctx, store.GetQueueParams{Queue: q})
	require.ErrorIs(f.t, err, store.ErrNotFound, "GetQueue %v", q)
}

// queueNames lists a project's queue names.
func (f *fixture) queueNames(project string) []string {
	f.t.Helper()
	qs, err := f.s.ListQueues(f.ctx, store.ListQueuesParams{Project: project, Limit: pageSize})
	require.NoError(f.t, err, "ListQueues %q", project)
	names := make([]string, len(qs))
	for i, q := range qs {
		names[i] = q.Name
	}
	return names
}

// requireMeta checks a queue's metadata as JSON; stores may hand back nil
// or empty for {}.
func requireMeta(t *testing.T, want string, got json.RawMessage) {
	t.Helper()
	if strings.TrimSpace(string(got)) == "" {
		got = json.RawMessage("{}")
	}
	require.JSONEq(t, want, string(got))
}

// ids returns the messages' IDs in order.
func ids(msgs []store.Message) []store.ID {
	out := make([]store.ID, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// requireIncreasing checks that ids strictly increase (M2, M6).
func requireIncreasing(t *testing.T, ids []store.ID, msgAndArgs ...any) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		require.Negative(t, ids[i-1].Compare(ids[i]), msgAndArgs...)
	}
}

// requireTime compares instants, not representations: a store may hand back
// another location or drop the monotonic reading.
func requireTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: want %v, got %v (off by %v)", what, want, got, got.Sub(want))
}

// fakeID is a well-formed ID that no store issued: its timestamp is long
// before base.
func fakeID(n byte) store.ID { return store.ID{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, n} }
