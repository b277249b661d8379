package storetest

import (
	"fmt"
	"math"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var claimTests = []subtest{
	{"C1/ClaimTakesOldestUpToLimit", testClaimTakesOldestUpToLimit},
	{"C1/ClaimsNeverOverlap", testClaimsNeverOverlap},
	{"C1/NoClaimOnEmptyOrMissingQueue", testNoClaimOnEmptyOrMissingQueue},
	{"C1/NextReady", testNextReady},
	{"C2/ClaimExtendsMessageLifetime", testClaimExtendsMessageLifetime},
	{"C2/InvalidClaimParams", testInvalidClaimParams},
	{"C3/ClaimIDsUnique", testClaimIDsUnique},
	{"C3/StaleClaimNeverActs", testStaleClaimNeverActs},
	{"C4/RenewExtends", testRenewExtends},
	{"C4/RenewUnknownOrExpired", testRenewUnknownOrExpired},
	{"C4/GetClaimHoldsRemaining", testGetClaimHoldsRemaining},
	{"C4/InvalidRenewParams", testInvalidRenewParams},
	{"C5/ReleaseFreesNow", testReleaseFreesNow},
	{"C5/ReleaseWithDelay", testReleaseWithDelay},
	{"C5/ReleaseExpiredOrUnknownIsNoop", testReleaseExpiredOrUnknownIsNoop},
	{"C5/ClaimExpiryFreesAtExpires", testClaimExpiryFreesAtExpires},
	{"C5/ClockStepBackClaimStaysExpired", testClockStepBackClaimStaysExpired},
	{"C5/InvalidReleaseDelay", testInvalidReleaseDelay},
	{"C5/ReleaseSomeFreesOnlyThose", testReleaseSomeFreesOnlyThose},
	{"C5/ReleaseSomeWithDelay", testReleaseSomeWithDelay},
	{"C5/ReleaseSomeLastEndsClaim", testReleaseSomeLastEndsClaim},
	{"C5/ReleaseSomeSkipsOthers", testReleaseSomeSkipsOthers},
	{"C5/ReleaseSomeStaleClaimIsNoop", testReleaseSomeStaleClaimIsNoop},
	{"M8/DeleteAndClaimDeletesThenClaims", testDeleteAndClaimDeletesThenClaims},
	{"M8/DeleteAndClaimFailedDeleteChangesNothing", testDeleteAndClaimFailedDeleteChangesNothing},
	{"C6/DeleteAndClaimMovesToDeadLetters", testDeleteAndClaimMovesToDeadLetters},
}

// requireClaimInfo compares claim descriptions field by field, times as
// instants.
func requireClaimInfo(f *fixture, want, got store.ClaimInfo) {
	f.t.Helper()
	require.Equal(f.t, want.ID, got.ID, "claim ID")
	require.Equal(f.t, want.TTL, got.TTL, "claim TTL")
	require.Equal(f.t, want.Grace, got.Grace, "claim Grace")
	requireTime(f.t, want.Updated, got.Updated, "claim Updated")
	requireTime(f.t, want.Expires, got.Expires, "claim Expires")
}

// requireNextReady checks that a claim finds nothing and says when to retry.
func (f *fixture) requireNextReady(q store.QueueRef, want time.Time) {
	f.t.Helper()
	res := f.claim(q, 10)
	require.Empty(f.t, res.Messages, "CreateClaim at %v", f.now.Sub(base))
	requireTime(f.t, want, res.NextReady, "NextReady")
}

func testClaimTakesOldestUpToLimit(f *fixture) {
	q := ref("q")
	posted := f.post(q, bodies(20)...)
	res := f.claimWith(store.CreateClaimParams{Queue: q, TTL: claimTTL, Grace: time.Second, Limit: 15})
	require.Equal(f.t, posted[:15], ids(res.Messages))
	requireClaimInfo(f, store.ClaimInfo{ID: res.Claim.ID, TTL: claimTTL, Grace: time.Second, Updated: f.now, Expires: f.now.Add(claimTTL)}, res.Claim)
	for i, m := range res.Messages {
		require.Equal(f.t, fmt.Sprint("m", i), string(m.Body))
		require.Equal(f.t, 1, m.ClaimCount)
		requireTime(f.t, res.Claim.Expires, m.ClaimExpires, "ClaimExpires")
	}
	f.counts(q, 5, 15, 0)
	info, held := f.getClaim(q, res.Claim.ID)
	requireClaimInfo(f, res.Claim, info)
	require.ElementsMatch(f.t, posted[:15], ids(held))
}

func testClaimsNeverOverlap(f *fixture) {
	q := ref("q")
	posted := f.post(q, bodies(25)...)
	var got []store.ID
	for _, want := range []int{10, 10, 5, 0} {
		res := f.claim(q, 10)
		require.Len(f.t, res.Messages, want)
		got = append(got, ids(res.Messages)...)
	}
	require.Equal(f.t, posted, got, "each message claimed once, oldest first")
	require.Empty(f.t, f.visible(q), "claimed messages are hidden from listing")
	require.Empty(f.t, f.pop(q, 10), "claimed messages are hidden from pop")
	f.counts(q, 0, 25, 0)
}

func testNoClaimOnEmptyOrMissingQueue(f *fixture) {
	empty := ref("empty")
	f.create(empty, "")
	for _, q := range []store.QueueRef{empty, ref("missing")} {
		res := f.claim(q, 10)
		require.Zero(f.t, res.Claim, "no claim on %v", q)
		require.Empty(f.t, res.Messages)
		require.True(f.t, res.NextReady.IsZero(), "nothing pending on %v", q)
	}
}

func testNextReady(f *fixture) {
	q := ref("q")
	f.postDrafts(q, store.Draft{Body: []byte("d"), Delay: 30 * time.Second})
	f.requireNextReady(q, base.Add(30*time.Second))

	f.post(q, "m")
	c := f.claimWith(store.CreateClaimParams{Queue: q, TTL: 10 * time.Second, Limit: 10})
	require.Len(f.t, c.Messages, 1)
	f.requireNextReady(q, c.Claim.Expires)

	f.release(q, c.Claim.ID, 20*time.Second)
	f.requireNextReady(q, base.Add(20*time.Second))

	f.now = base.Add(20 * time.Second)
	second := f.claim(q, 10)
	require.Len(f.t, second.Messages, 1)
	f.requireNextReady(q, base.Add(30*time.Second))

	f.now = base.Add(30 * time.Second)
	require.Len(f.t, f.claim(q, 10).Messages, 1)
	f.requireNextReady(q, second.Claim.Expires)

	expired := ref("expired")
	f.postDrafts(expired, store.Draft{Body: []byte("x"), TTL: time.Second})
	f.advance(time.Second)
	f.requireNextReady(expired, time.Time{})
}

// testClaimExtendsMessageLifetime runs Zaqar's examples (zaqar-v2.md §4.11)
// under herald's rule: a message that would expire before claim expiry +
// grace is extended to exactly that; others keep their expiry.
func testClaimExtendsMessageLifetime(f *fixture) {
	const msgTTL = 120 * time.Second
	s := time.Second
	var (
		extended   store.QueueRef
		extendedID store.ID
	)
	for _, tc := range []struct {
		ttl, grace, want time.Duration
	}{
		{777 * s, 0, 777 * s},
		{777 * s, 23 * s, 800 * s},
		{121 * s, 22 * s, 143 * s},
		{60 * s, 30 * s, msgTTL},
		{100 * s, 30 * s, 130 * s}, // herald extends where Zaqar would not
		{120 * s, 0, msgTTL},
	} {
		q := ref(fmt.Sprintf("ttl%d-grace%d", tc.ttl/s, tc.grace/s))
		id := f.postDrafts(q, store.Draft{Body: []byte("x"), TTL: msgTTL})[0]
		res := f.claimWith(store.CreateClaimParams{Queue: q, TTL: tc.ttl, Grace: tc.grace, Limit: 1})
		require.Len(f.t, res.Messages, 1)
		requireTime(f.t, base.Add(tc.want), res.Messages[0].Expires, q.Name+" claimed message Expires")
		requireTime(f.t, base.Add(tc.want), f.getOne(q, id).Expires, q.Name+" stored Expires")
		if tc.want > msgTTL {
			extended, extendedID = q, id
		}
	}
	f.now = base.Add(msgTTL)
	require.Len(f.t, f.get(extended, extendedID), 1, "an extended message outlives its own TTL")
}

func testInvalidClaimParams(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a", "b")
	huge := time.Duration(math.MaxInt64)
	for _, tc := range []struct {
		what  string
		p     store.CreateClaimParams
		wantE error
	}{
		{"zero TTL", store.CreateClaimParams{TTL: 0, Limit: 1}, store.ErrInvalidTTL},
		{"negative TTL", store.CreateClaimParams{TTL: -time.Second, Limit: 1}, store.ErrInvalidTTL},
		{"overflowing TTL", store.CreateClaimParams{TTL: huge, Limit: 1}, store.ErrInvalidTTL},
		{"negative grace", store.CreateClaimParams{TTL: claimTTL, Grace: -time.Second, Limit: 1}, store.ErrInvalidTTL},
		{"overflowing grace", store.CreateClaimParams{TTL: claimTTL, Grace: huge, Limit: 1}, store.ErrInvalidTTL},
		{"zero limit", store.CreateClaimParams{TTL: claimTTL, Limit: 0}, store.ErrInvalidLimit},
		{"negative limit", store.CreateClaimParams{TTL: claimTTL, Limit: -1}, store.ErrInvalidLimit},
	} {
		tc.p.Queue, tc.p.Now = q, f.now
		res, err := f.s.CreateClaim(f.ctx, tc.p)
		require.ErrorIs(f.t, err, tc.wantE, tc.what)
		require.Empty(f.t, res.Messages, tc.what)
	}
	f.counts(q, 2, 0, 0)
	for _, m := range f.get(q, posted...) {
		require.Zero(f.t, m.ClaimCount, "a refused claim counted")
	}
}

func testClaimIDsUnique(f *fixture) {
	const n = 50
	q, other := ref("q"), ref("other")
	f.post(q, bodies(n)...)
	f.post(other, "x")
	seen := map[store.ID]bool{}
	take := func(q store.QueueRef) store.ClaimResult {
		f.t.Helper()
		res := f.claim(q, 1)
		require.Len(f.t, res.Messages, 1)
		require.False(f.t, seen[res.Claim.ID], "claim ID %v reused", res.Claim.ID)
		seen[res.Claim.ID] = true
		return res
	}
	for range 2 {
		var claims []store.ID
		for range n {
			claims = append(claims, take(q).Claim.ID)
		}
		for i := 0; i < n; i += 2 {
			f.release(q, claims[i], 0)
		}
		f.advance(claimTTL) // the rest expire
	}
	take(other)
}

// testStaleClaimNeverActs ends a claim (by expiry, then by release), lets a
// second claim take the message, and checks that the first claim's ID can
// no longer touch it (C3: claim IDs are fencing tokens).
func testStaleClaimNeverActs(f *fixture) {
	for _, how := range []string{"expired", "released"} {
		q := ref(how)
		posted := f.post(q, "m")
		stale := f.claim(q, 1)
		if how == "expired" {
			f.now = stale.Claim.Expires
		} else {
			f.release(q, stale.Claim.ID, 0)
		}
		fresh := f.claim(q, 1)
		require.Equal(f.t, posted, ids(fresh.Messages), how)
		require.Equal(f.t, 2, fresh.Messages[0].ClaimCount, how)

		require.ErrorIs(f.t, f.del(q, stale.Claim.ID, posted...), store.ErrClaimMismatch, how)
		f.requireKept(q, posted...)
		f.requireNoClaim(q, stale.Claim.ID)
		f.release(q, stale.Claim.ID, 0)
		f.counts(q, 0, 1, 0)
		_, held := f.getClaim(q, fresh.Claim.ID)
		require.Equal(f.t, posted, ids(held), how)
		require.NoError(f.t, f.del(q, fresh.Claim.ID, posted...), how)
	}
}

// renew renews a claim at the fixture's Now.
func (f *fixture) renew(q store.QueueRef, claim store.ID, ttl, grace time.Duration) (store.ClaimInfo, error) {
	return f.s.RenewClaim(f.ctx, store.RenewClaimParams{Queue: q, Claim: claim, TTL: ttl, Grace: grace, Now: f.now})
}

func testRenewExtends(f *fixture) {
	q := ref("q")
	posted := f.postDrafts(q, store.Draft{Body: []byte("a"), TTL: time.Minute}, store.Draft{Body: []byte("b"), TTL: time.Hour})
	c := f.claimWith(store.CreateClaimParams{Queue: q, TTL: 30 * time.Second, Limit: 2})
	f.advance(20 * time.Second)
	info, err := f.renew(q, c.Claim.ID, 100*time.Second, 10*time.Second)
	require.NoError(f.t, err)
	want := store.ClaimInfo{ID: c.Claim.ID, TTL: 100 * time.Second, Grace: 10 * time.Second, Updated: f.now, Expires: base.Add(120 * time.Second)}
	requireClaimInfo(f, want, info)
	got, held := f.getClaim(q, c.Claim.ID)
	requireClaimInfo(f, want, got)
	require.ElementsMatch(f.t, posted, ids(held))

	msgs := f.get(q, posted...)
	requireTime(f.t, base.Add(130*time.Second), msgs[0].Expires, "renewal extends a short-lived message (C2)")
	requireTime(f.t, base.Add(time.Hour), msgs[1].Expires, "renewal leaves a long-lived message alone")
	for _, m := range msgs {
		require.Equal(f.t, 1, m.ClaimCount, "renewal keeps claim counts")
		requireTime(f.t, want.Expires, m.ClaimExpires, "ClaimExpires follows the renewal")
	}

	f.now = base.Add(30 * time.Second) // the original expiry
	f.counts(q, 0, 2, 0)
	f.now = want.Expires.Add(-time.Nanosecond)
	f.counts(q, 0, 2, 0)
	f.now = want.Expires
	f.counts(q, 2, 0, 0)
}

func testRenewUnknownOrExpired(f *fixture) {
	q := ref("q")
	f.post(q, "a", "b")
	_, err := f.renew(q, fakeID(1), claimTTL, 0)
	require.ErrorIs(f.t, err, store.ErrClaimNotFound, "a claim never made")
	_, err = f.renew(q, store.ID{}, claimTTL, 0)
	require.ErrorIs(f.t, err, store.ErrInvalidID, "the zero id names no claim")

	c := f.claimWith(store.CreateClaimParams{Queue: q, TTL: 10 * time.Second, Limit: 1})
	f.now = c.Claim.Expires.Add(-time.Nanosecond)
	info, err := f.renew(q, c.Claim.ID, 10*time.Second, 0)
	require.NoError(f.t, err, "renew just before expiry")
	f.now = info.Expires
	f.requireNoClaim(q, c.Claim.ID)

	released := f.claim(q, 1)
	f.release(q, released.Claim.ID, 0)
	f.requireNoClaim(q, released.Claim.ID)
	f.counts(q, 2, 0, 0)
}

func testGetClaimHoldsRemaining(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a", "b", "c")
	c := f.claim(q, 3)
	require.NoError(f.t, f.del(q, c.Claim.ID, posted[1]))
	info, held := f.getClaim(q, c.Claim.ID)
	requireClaimInfo(f, c.Claim, info)
	require.ElementsMatch(f.t, []store.ID{posted[0], posted[2]}, ids(held))
	for _, m := range held {
		require.Equal(f.t, c.Claim.ID, m.ClaimID)
		require.NotEmpty(f.t, m.Body)
	}
}

func testInvalidRenewParams(f *fixture) {
	q := ref("q")
	f.post(q, "a")
	c := f.claim(q, 1)
	f.advance(time.Second)
	for _, tc := range []struct {
		what       string
		ttl, grace time.Duration
	}{
		{"zero TTL", 0, 0},
		{"negative TTL", -time.Second, 0},
		{"overflowing TTL", math.MaxInt64, 0},
		{"negative grace", claimTTL, -time.Second},
		{"overflowing grace", claimTTL, math.MaxInt64},
	} {
		_, err := f.renew(q, c.Claim.ID, tc.ttl, tc.grace)
		require.ErrorIs(f.t, err, store.ErrInvalidTTL, tc.what)
	}
	info, _ := f.getClaim(q, c.Claim.ID)
	requireClaimInfo(f, c.Claim, info)
}

func testReleaseFreesNow(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a", "b")
	c := f.claim(q, 2)
	f.release(q, c.Claim.ID, 0)
	require.Equal(f.t, posted, f.visible(q))
	f.counts(q, 2, 0, 0)
	again := f.claim(q, 10)
	require.Equal(f.t, posted, ids(again.Messages))
	for _, m := range again.Messages {
		require.Equal(f.t, 2, m.ClaimCount)
	}
}

func testReleaseWithDelay(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a", "b")
	c := f.claim(q, 2)
	f.advance(time.Second)
	f.release(q, c.Claim.ID, 30*time.Second)
	visibleAt := f.now.Add(30 * time.Second)
	f.counts(q, 0, 0, 2)
	for _, m := range f.get(q, posted...) {
		requireTime(f.t, visibleAt, m.VisibleAt, "VisibleAt after a delayed release")
		require.True(f.t, m.ClaimID.IsZero(), "a released message names no claim")
	}
	require.Empty(f.t, f.visible(q))
	require.Equal(f.t, posted, ids(f.list(store.ListMessagesParams{Queue: q, IncludeDelayed: true})))
	require.Empty(f.t, f.pop(q, 10))
	f.requireNextReady(q, visibleAt)

	f.now = visibleAt.Add(-time.Nanosecond)
	f.requireNextReady(q, visibleAt)
	f.now = visibleAt
	require.Equal(f.t, posted, ids(f.claim(q, 10).Messages))
}

func testReleaseExpiredOrUnknownIsNoop(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a")
	f.release(q, fakeID(1), 0)
	old := f.claim(q, 1)
	f.now = old.Claim.Expires
	f.release(q, old.Claim.ID, 0)
	f.counts(q, 1, 0, 0)
	current := f.claim(q, 1)
	require.Equal(f.t, posted, ids(current.Messages))
	f.release(q, old.Claim.ID, time.Hour)
	f.counts(q, 0, 1, 0)
	_, held := f.getClaim(q, current.Claim.ID)
	require.Equal(f.t, posted, ids(held))
}

func testClaimExpiryFreesAtExpires(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a")
	c := f.claimWith(store.CreateClaimParams{Queue: q, TTL: 10 * time.Second, Limit: 1})
	f.now = c.Claim.Expires.Add(-time.Nanosecond)
	require.Empty(f.t, f.visible(q))
	f.counts(q, 0, 1, 0)
	require.Empty(f.t, f.pop(q, 10))
	f.requireNextReady(q, c.Claim.Expires)

	f.now = c.Claim.Expires
	require.Equal(f.t, posted, f.visible(q))
	f.counts(q, 1, 0, 0)
	m := f.getOne(q, posted[0])
	require.True(f.t, m.ClaimID.IsZero(), "an expired claim is never reported")
	again := f.claim(q, 1)
	require.Equal(f.t, posted, ids(again.Messages))
	require.Equal(f.t, 2, again.Messages[0].ClaimCount)
}

// testClockStepBackClaimStaysExpired checks that a claim which expired at a
// later Now is not live again when the caller's clock steps back
// (params.go: stores use the latest Now they have seen).
func testClockStepBackClaimStaysExpired(f *fixture) {
	q := ref("q")
	posted := f.post(q, "a")
	c := f.claimWith(store.CreateClaimParams{Queue: q, TTL: 10 * time.Second, Limit: 1})
	f.now = base.Add(20 * time.Second)
	f.counts(q, 1, 0, 0)

	f.now = base.Add(5 * time.Second)
	f.requireNoClaim(q, c.Claim.ID)
	require.Equal(f.t, posted, f.visible(q))
	f.counts(q, 1, 0, 0)
	require.ErrorIs(f.t, f.del(q, c.Claim.ID, posted...), store.ErrNotClaimed)
	next := f.claim(q, 1)
	require.Equal(f.t, posted, ids(next.Messages), "a second claimant gets the message")
}

func testInvalidReleaseDelay(f *fixture) {
	q := ref("q")
	f.post(q, "a")
	c := f.claim(q, 1)
	err := f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: c.Claim.ID, Delay: -time.Second, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrInvalidDelay)
	err = f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: c.Claim.ID, Delay: math.MaxInt64, Now: f.now})
	require.ErrorIs(f.t, err, store.ErrInvalid, "overflowing delay")
	info, _ := f.getClaim(q, c.Claim.ID)
	requireClaimInfo(f, c.Claim, info)
	f.counts(q, 0, 1, 0)
}
