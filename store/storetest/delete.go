package storetest

import (
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var deleteTests = []subtest{
	{"M8/DeleteUnclaimed", testDeleteUnclaimed},
	{"M8/DeleteMissingIsIdempotent", testDeleteMissingIsIdempotent},
	{"M8/ClaimedWithoutClaimMismatch", testClaimedWithoutClaimMismatch},
	{"M8/ClaimedWithItsClaim", testClaimedWithItsClaim},
	{"M8/ClaimedWithAnotherClaimMismatch", testClaimedWithAnotherClaimMismatch},
	{"M8/ClaimIDOnUnclaimedNotClaimed", testClaimIDOnUnclaimedNotClaimed},
	{"M8/ExpiredClaimIDNotClaimed", testExpiredClaimIDNotClaimed},
	{"M8/ReleasedClaimIDNotClaimed", testReleasedClaimIDNotClaimed},
	{"M8/MultiDeleteFailsWhole", testMultiDeleteFailsWhole},
	{"M8/IgnoreClaimsDeletesClaimed", testIgnoreClaimsDeletesClaimed},
	{"M9/PopTakesOldestFree", testPopTakesOldestFree},
	{"M9/PopLimitValidated", testPopLimitValidated},
}

// requireKept checks that a failed delete left the messages in place.
func (f *fixture) requireKept(q store.QueueRef, want ...store.ID) {
	f.t.Helper()
	require.Equal(f.t, want, ids(f.get(q, want...)), "a failed delete removed messages")
}

func testDeleteUnclaimed(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b")
	require.NoError(f.t, f.del(q, store.ID{}, got[0]))
	require.Empty(f.t, f.get(q, got[0]))
	f.counts(q, 1, 0, 0)
}

func testDeleteMissingIsIdempotent(f *fixture) {
	q := ref("q")
	got := f.post(q, "a")
	require.NoError(f.t, f.del(q, store.ID{}, got[0]))
	require.NoError(f.t, f.del(q, store.ID{}, got[0]), "second delete")
	require.NoError(f.t, f.del(q, store.ID{}, fakeID(1)), "never-existing ID")
	require.NoError(f.t, f.del(ref("missing"), store.ID{}, got[0]), "missing queue")
	f.requireNoQueue(ref("missing"))
}

func testClaimedWithoutClaimMismatch(f *fixture) {
	q := ref("q")
	got := f.post(q, "a")
	f.claim(q, 1)
	require.ErrorIs(f.t, f.del(q, store.ID{}, got...), store.ErrClaimMismatch)
	f.requireKept(q, got...)
}

func testClaimedWithItsClaim(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b")
	c := f.claim(q, 2)
	require.NoError(f.t, f.del(q, c.Claim.ID, got[0]))
	require.Empty(f.t, f.get(q, got[0]))
	f.counts(q, 0, 1, 0)
	_, held := f.getClaim(q, c.Claim.ID)
	require.Equal(f.t, got[1:], ids(held), "the deleted message left its claim")
}

func testClaimedWithAnotherClaimMismatch(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b")
	first := f.claim(q, 1)
	second := f.claim(q, 1)
	require.ErrorIs(f.t, f.del(q, second.Claim.ID, got[0]), store.ErrClaimMismatch)
	require.ErrorIs(f.t, f.del(q, first.Claim.ID, got[1]), store.ErrClaimMismatch)
	f.requireKept(q, got...)
	f.counts(q, 0, 2, 0)
}

func testClaimIDOnUnclaimedNotClaimed(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b")
	c := f.claim(q, 1)
	require.ErrorIs(f.t, f.del(q, c.Claim.ID, got[1]), store.ErrNotClaimed, "a real claim on a free message")
	require.ErrorIs(f.t, f.del(q, fakeID(1), got[1]), store.ErrNotClaimed, "an unknown claim on a free message")
	f.requireKept(q, got...)
}

func testExpiredClaimIDNotClaimed(f *fixture) {
	q := ref("q")
	got := f.post(q, "a")
	c := f.claim(q, 1)
	f.now = c.Claim.Expires
	require.ErrorIs(f.t, f.del(q, c.Claim.ID, got...), store.ErrNotClaimed)
	f.requireKept(q, got...)
	require.NoError(f.t, f.del(q, store.ID{}, got...), "an expired claim no longer guards its messages")
}

func testReleasedClaimIDNotClaimed(f *fixture) {
	q := ref("q")
	got := f.post(q, "a")
	c := f.claim(q, 1)
	f.release(q, c.Claim.ID, 0)
	require.ErrorIs(f.t, f.del(q, c.Claim.ID, got...), store.ErrNotClaimed)
	f.requireKept(q, got...)
}

func testMultiDeleteFailsWhole(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b", "c")
	a, b, free := got[0], got[1], got[2]
	ca := f.claim(q, 1)
	f.claim(q, 1) // b
	for _, tc := range []struct {
		what  string
		claim store.ID
		ids   []store.ID
		want  error
	}{
		{"free and claimed, no claim", store.ID{}, []store.ID{free, a}, store.ErrClaimMismatch},
		{"claimed and free, with the claim", ca.Claim.ID, []store.ID{a, free}, store.ErrNotClaimed},
		{"two claims' messages, with one", ca.Claim.ID, []store.ID{a, b}, store.ErrClaimMismatch},
		{"missing then mismatched", ca.Claim.ID, []store.ID{fakeID(1), a, b}, store.ErrMessageGone},
		{"mismatched then missing", ca.Claim.ID, []store.ID{a, b, fakeID(1)}, store.ErrClaimMismatch},
		{"held then missing", ca.Claim.ID, []store.ID{a, fakeID(1)}, store.ErrMessageGone},
	} {
		require.ErrorIs(f.t, f.del(q, tc.claim, tc.ids...), tc.want, tc.what)
		f.requireKept(q, got...)
		f.counts(q, 1, 2, 0)
	}
}

func testIgnoreClaimsDeletesClaimed(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b", "c")
	c := f.claim(q, 2)
	err := f.s.DeleteMessages(f.ctx, store.DeleteMessagesParams{Queue: q, IDs: []store.ID{got[0], got[2], fakeID(1)}, IgnoreClaims: true, Now: f.now})
	require.NoError(f.t, err)
	require.Equal(f.t, got[1:2], ids(f.all(q)))
	f.counts(q, 0, 1, 0)
	_, held := f.getClaim(q, c.Claim.ID)
	require.Equal(f.t, got[1:2], ids(held))
}

func testPopTakesOldestFree(f *fixture) {
	q := ref("q")
	claimed := f.post(q, "a")
	free := f.post(q, "b", "c")
	delayed := f.postDrafts(q, store.Draft{Body: []byte("d"), Delay: time.Minute})
	free = append(free, f.post(q, "e", "f")...)
	f.claim(q, 1)

	first := f.pop(q, 2)
	require.Equal(f.t, free[:2], ids(first))
	require.Equal(f.t, "b", string(first[0].Body))
	require.True(f.t, first[0].ClaimID.IsZero())
	require.Empty(f.t, f.get(q, free[:2]...), "popped messages are deleted")

	require.Equal(f.t, free[2:], ids(f.pop(q, 10)), "pop skips claimed and delayed messages")
	require.Empty(f.t, f.pop(q, 10))
	require.Equal(f.t, append(claimed, delayed...), ids(f.all(q)))
	require.Empty(f.t, f.pop(ref("missing"), 10), "a missing queue pops nothing")
}

func testPopLimitValidated(f *fixture) {
	q := ref("q")
	f.post(q, "a")
	for _, limit := range []int{0, -1} {
		_, err := f.s.PopMessages(f.ctx, store.PopParams{Queue: q, Limit: limit, Now: f.now})
		require.ErrorIs(f.t, err, store.ErrInvalidLimit, "limit %d", limit)
	}
	f.counts(q, 1, 0, 0)
}
