package storetest

import (
	"math"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var badInputTests = []subtest{
	{"Errors/BadInputChangesNothing", testBadInputChangesNothing},
	{"B3/ClosedStoreReturnsErrClosed", testClosedStoreReturnsErrClosed},
}

// snapshot is everything a caller can read about a queue at one Now. Two
// equal snapshots mean a call changed nothing visible.
type snapshot struct {
	Queue    store.QueueInfo
	Stats    store.Stats
	Messages []store.Message
}

func (f *fixture) snapshots(qs ...store.QueueRef) []snapshot {
	f.t.Helper()
	out := make([]snapshot, len(qs))
	for i, q := range qs {
		out[i] = snapshot{Queue: f.queue(q), Stats: f.stats(q), Messages: f.all(q)}
	}
	return out
}

// testBadInputChangesNothing is RELIABILITY.md suite 8 at the Store level:
// bad arguments and stale or foreign claim IDs each give their documented
// error, never panic, and leave every queue as it was (DESIGN.md §4).
func testBadInputChangesNothing(f *fixture) {
	q, other := ref("q"), ref("other")
	f.create(q, `{"_max_messages_post_size":100,"_max_claim_count":5,"_dead_letter_queue":"dlq"}`)
	posted := f.postDrafts(q, store.Draft{Body: []byte("m0")}, store.Draft{Body: []byte("m1")},
		store.Draft{Body: []byte("m2"), DedupID: "k"}, store.Draft{Body: []byte("late"), Delay: time.Hour})
	expired := f.claimWith(store.CreateClaimParams{Queue: q, TTL: time.Second, Limit: 1}).Claim.ID
	f.advance(time.Second)
	released := f.claim(q, 1).Claim.ID
	f.release(q, released, 0)
	live := f.claim(q, 2).Claim.ID // m0 and m1
	f.post(other, "x")
	foreign := f.claim(other, 1).Claim.ID
	m0, m2 := posted[0], posted[2]

	huge := time.Duration(math.MaxInt64)
	post := func(p store.PostParams) func() error {
		return func() error {
			p.Now = f.now
			_, err := f.s.PostMessages(f.ctx, p)
			return err
		}
	}
	drafts := func(d ...store.Draft) []store.Draft { return d }
	claim := func(p store.CreateClaimParams) func() error {
		return func() error {
			p.Queue, p.Now = q, f.now
			_, err := f.s.CreateClaim(f.ctx, p)
			return err
		}
	}
	renew := func(id store.ID, ttl, grace time.Duration) func() error {
		return func() error { _, err := f.renew(q, id, ttl, grace); return err }
	}
	getClaim := func(id store.ID) func() error {
		return func() error {
			_, _, err := f.s.GetClaim(f.ctx, store.GetClaimParams{Queue: q, Claim: id, Now: f.now})
			return err
		}
	}
	release := func(id store.ID, delay time.Duration) func() error {
		return func() error {
			return f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: id, Delay: delay, Now: f.now})
		}
	}
	del := func(claim store.ID, ids ...store.ID) func() error {
		return func() error { return f.del(q, claim, ids...) }
	}
	setMeta := func(meta string) func() error {
		return func() error {
			return f.s.SetQueueMetadata(f.ctx, store.SetQueueMetadataParams{Queue: q, Metadata: raw(meta)})
		}
	}
	limit := func(n int) []call {
		return []call{
			{"ListQueues", func() error {
				_, err := f.s.ListQueues(f.ctx, store.ListQueuesParams{Project: "p", Limit: n})
				return err
			}},
			{"ListMessages", func() error {
				_, err := f.s.ListMessages(f.ctx, store.ListMessagesParams{Queue: q, Limit: n, Now: f.now})
				return err
			}},
			{"PopMessages", func() error {
				_, err := f.s.PopMessages(f.ctx, store.PopParams{Queue: q, Limit: n, Now: f.now})
				return err
			}},
			{"CreateClaim", claim(store.CreateClaimParams{TTL: claimTTL, Limit: n})},
			{"Sweep", func() error {
				_, err := f.s.Sweep(f.ctx, store.SweepParams{Now: f.now, Limit: n})
				return err
			}},
		}
	}

	cases := []struct {
		call
		want error
	}{
		{call{"CreateQueue bad metadata on existing queue", func() error {
			_, err := f.s.CreateQueue(f.ctx, store.CreateQueueParams{Queue: q, Metadata: raw(`{"_max_claim_count":-1}`), Now: f.now})
			return err
		}}, store.ErrInvalidMetadata},
		{call{"SetQueueMetadata not an object", setMeta(`[]`)}, store.ErrInvalidMetadata},
		{call{"SetQueueMetadata own dead-letter queue", setMeta(`{"_dead_letter_queue":"q"}`)}, store.ErrInvalidMetadata},
		{call{"PostMessages bad name", post(store.PostParams{Queue: ref("a/b"), Messages: drafts(store.Draft{Body: []byte("x")})})}, store.ErrInvalidName},
		{call{"PostMessages negative TTL", post(store.PostParams{Queue: q, Messages: drafts(store.Draft{Body: []byte("x"), TTL: -1})})}, store.ErrInvalidTTL},
		{call{"PostMessages overflowing TTL", post(store.PostParams{Queue: q, Messages: drafts(store.Draft{Body: []byte("x"), TTL: huge})})}, store.ErrInvalidTTL},
		{call{"PostMessages overflowing DefaultTTL", post(store.PostParams{Queue: q, Messages: drafts(store.Draft{Body: []byte("x")}), DefaultTTL: huge})}, store.ErrInvalidTTL},
		{call{"PostMessages negative delay", post(store.PostParams{Queue: q, Messages: drafts(store.Draft{Body: []byte("x"), Delay: -1})})}, store.ErrInvalidDelay},
		{call{"PostMessages batch over post size", post(store.PostParams{Queue: q, Messages: drafts(
			store.Draft{Body: make([]byte, 60), DedupID: "new"}, store.Draft{Body: make([]byte, 41)})})}, store.ErrTooLarge},
		{call{"PostMessages good then bad", post(store.PostParams{Queue: q, Messages: drafts(
			store.Draft{Body: []byte("ok"), DedupID: "new"}, store.Draft{Body: []byte("x"), TTL: -1})})}, store.ErrInvalidTTL},
		{call{"CreateClaim zero TTL", claim(store.CreateClaimParams{Limit: 1})}, store.ErrInvalidTTL},
		{call{"CreateClaim overflowing TTL", claim(store.CreateClaimParams{TTL: huge, Limit: 1})}, store.ErrInvalidTTL},
		{call{"CreateClaim negative grace", claim(store.CreateClaimParams{TTL: claimTTL, Grace: -1, Limit: 1})}, store.ErrInvalidTTL},
		{call{"RenewClaim zero ID", renew(store.ID{}, claimTTL, 0)}, store.ErrInvalidID},
		{call{"RenewClaim garbage ID", renew(fakeID(7), claimTTL, 0)}, store.ErrClaimNotFound},
		{call{"RenewClaim other queue's claim", renew(foreign, claimTTL, 0)}, store.ErrClaimNotFound},
		{call{"RenewClaim expired claim", renew(expired, claimTTL, 0)}, store.ErrClaimNotFound},
		{call{"RenewClaim released claim", renew(released, claimTTL, 0)}, store.ErrClaimNotFound},
		{call{"RenewClaim zero TTL", renew(live, 0, 0)}, store.ErrInvalidTTL},
		{call{"RenewClaim negative grace", renew(live, claimTTL, -1)}, store.ErrInvalidTTL},
		{call{"RenewClaim overflowing TTL", renew(live, huge, 0)}, store.ErrInvalidTTL},
		{call{"GetClaim zero ID", getClaim(store.ID{})}, store.ErrInvalidID},
		{call{"GetClaim other queue's claim", getClaim(foreign)}, store.ErrClaimNotFound},
		{call{"GetClaim expired claim", getClaim(expired)}, store.ErrClaimNotFound},
		{call{"ReleaseClaim negative delay", release(live, -1)}, store.ErrInvalidDelay},
		{call{"ReleaseClaim overflowing delay", release(live, huge)}, store.ErrInvalid},
		{call{"DeleteMessages claimed, no claim", del(store.ID{}, m0)}, store.ErrClaimMismatch},
		{call{"DeleteMessages claimed, other queue's claim", del(foreign, m0)}, store.ErrClaimMismatch},
		{call{"DeleteMessages claimed, superseded claim", del(expired, m0)}, store.ErrClaimMismatch},
		{call{"DeleteMessages free, live claim", del(live, m2)}, store.ErrNotClaimed},
		{call{"DeleteMessages free, garbage claim", del(fakeID(7), m2)}, store.ErrNotClaimed},
		{call{"DeleteMessages free then claimed", del(store.ID{}, m2, m0)}, store.ErrClaimMismatch},
		{call{"DeleteMessages missing, live claim", del(live, fakeID(9))}, store.ErrMessageGone},
		{call{"DeleteMessages held then missing, live claim", del(live, m0, fakeID(9))}, store.ErrMessageGone},
		{call{"DeleteMessages missing, expired claim", del(expired, fakeID(9))}, store.ErrMessageGone},
		// The zero ID names nothing: naming it is bad input, not a missing
		// message or claim ("message  is gone" with an empty id).
		{call{"GetMessages zero ID", func() error {
			_, err := f.s.GetMessages(f.ctx, store.GetMessagesParams{Queue: q, IDs: []store.ID{m2, {}}, Now: f.now})
			return err
		}}, store.ErrInvalidID},
		{call{"DeleteMessages zero ID, no claim", del(store.ID{}, m2, store.ID{})}, store.ErrInvalidID},
		{call{"DeleteMessages zero ID, live claim", del(live, m0, store.ID{})}, store.ErrInvalidID},
		{call{"DeleteMessages zero ID, IgnoreClaims", func() error {
			return f.s.DeleteMessages(f.ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{m2, {}}, IgnoreClaims: true, Now: f.now})
		}}, store.ErrInvalidID},
		{call{"CreateClaim deleting a zero ID", claim(store.CreateClaimParams{TTL: claimTTL, Limit: 1, Delete: []store.ID{m0, {}}, DeleteClaim: live})}, store.ErrInvalidID},
		{call{"ReleaseClaim zero ID", release(store.ID{}, 0)}, store.ErrInvalidID},
		{call{"ReleaseClaim zero message ID", func() error {
			return f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: live, IDs: []store.ID{m0, {}}, Now: f.now})
		}}, store.ErrInvalidID},
		{call{"DeleteMessages IgnoreClaims with a claim", func() error {
			return f.s.DeleteMessages(f.ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{m2}, Claim: live, IgnoreClaims: true, Now: f.now})
		}}, store.ErrInvalid},
	}
	for _, n := range []int{0, -1} {
		for _, c := range limit(n) {
			c.name += " bad limit"
			cases = append(cases, struct {
				call
				want error
			}{c, store.ErrInvalidLimit})
		}
	}
	if t, ok := f.s.(store.Transactor); ok {
		cases = append(cases, struct {
			call
			want error
		}{call{"Transact deleting a zero ID", func() error {
			_, err := t.Transact(f.ctx, store.TxParams{Ops: []store.TxOp{{Queue: q, Delete: []store.ID{m0, {}}, Claim: live}}, Now: f.now})
			return err
		}}, store.ErrInvalidID})
	}

	// I1 for subscriptions, deliveries and damaged messages too: the zero
	// ID names nothing ("subscription  not found" before).
	type zeroCase = struct {
		call
		want error
	}
	if sub, ok := f.s.(store.Subscriber); ok {
		ttl := time.Hour
		cases = append(cases,
			zeroCase{call{"GetSubscription zero ID", func() error {
				_, err := sub.GetSubscription(f.ctx, store.GetSubscriptionParams{Queue: q, Now: f.now})
				return err
			}}, store.ErrInvalidID},
			zeroCase{call{"UpdateSubscription zero ID", func() error {
				_, err := sub.UpdateSubscription(f.ctx, store.UpdateSubscriptionParams{Queue: q, TTL: &ttl, Now: f.now})
				return err
			}}, store.ErrInvalidID},
			zeroCase{call{"DeleteSubscription zero ID", func() error {
				return sub.DeleteSubscription(f.ctx, store.DeleteSubscriptionParams{Queue: q})
			}}, store.ErrInvalidID},
			zeroCase{call{"RetryFailedDeliveries zero ID", func() error {
				_, err := sub.RetryFailedDeliveries(f.ctx, store.RetryFailedDeliveriesParams{Queue: q, IDs: []store.ID{{}}, Now: f.now})
				return err
			}}, store.ErrInvalidID})
	}
	if dk, ok := f.s.(store.DamageKeeper); ok {
		cases = append(cases, zeroCase{call{"DeleteDamaged zero ID", func() error {
			return dk.DeleteDamaged(f.ctx, store.DeleteDamagedParams{Queue: q, IDs: []store.ID{{}}})
		}}, store.ErrInvalidID})
	}

	before := f.snapshots(q, other)
	names := f.queueNames("p")
	for _, tc := range cases {
		var err error
		require.NotPanics(f.t, func() { err = tc.fn() }, tc.name)
		require.ErrorIs(f.t, err, tc.want, tc.name)
		requireOnePrefix(f.t, err, tc.name)
		require.Equal(f.t, before, f.snapshots(q, other), "%s changed the store", tc.name)
		require.Equal(f.t, names, f.queueNames("p"), "%s changed the queue list", tc.name)
	}
	// A settle of a free message says why its claim no longer holds it,
	// in the same words on every store.
	require.EqualError(f.t, del(live, m2)(), "herald: message "+m2.String()+" is not claimed: claim "+live.String()+
		" expired or was released, or never held it")
	// The refused batches recorded no dedup entry.
	fresh := f.postDrafts(q, store.Draft{Body: []byte("new"), DedupID: "new"})
	require.NotContains(f.t, ids(before[0].Messages), fresh[0])
}

func testClosedStoreReturnsErrClosed(f *fixture) {
	q := ref("q")
	f.post(q, "x")
	require.NoError(f.t, f.s.Close())
	for _, c := range f.calls(f.sameArgs(q)) {
		var err error
		require.NotPanics(f.t, func() { err = c.fn() }, c.name)
		require.ErrorIs(f.t, err, store.ErrClosed, "%s after Close", c.name)
		requireOnePrefix(f.t, err, c.name)
	}
	require.NoError(f.t, f.s.Close(), "a second Close")
}

// requireOnePrefix: an error text starts with "herald: " and says it once,
// however many layers it went through (§4).
func requireOnePrefix(t require.TestingT, err error, name string) {
	require.Error(t, err, name)
	require.True(t, strings.HasPrefix(err.Error(), "herald: "), "%s: %q does not start with herald:", name, err)
	require.Equal(t, 1, strings.Count(err.Error(), "herald: "), "%s: %q", name, err)
}
