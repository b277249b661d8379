package storetest

import (
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var listingTests = []subtest{
	{"M6/OldestFirstMarkerExclusive", testOldestFirstMarkerExclusive},
	{"M6/ClaimedAndDelayedFilters", testClaimedAndDelayedFilters},
	{"M6/EchoRule", testEchoRule},
	{"M6/PagingWhilePostingNeverSkipsOrRepeats", testPagingWhilePosting},
	{"M7/GetByIDs", testGetByIDs},
}

func testOldestFirstMarkerExclusive(f *fixture) {
	q := ref("q")
	posted := f.post(q, bodies(7)...)
	page := func(marker store.ID, limit int) []store.ID {
		f.t.Helper()
		return ids(f.list(store.ListMessagesParams{Queue: q, Marker: marker, Limit: limit}))
	}
	require.Equal(f.t, posted[:3], page(store.ID{}, 3))
	require.Equal(f.t, posted[3:6], page(posted[2], 3))
	require.Equal(f.t, posted[6:], page(posted[5], 3))
	require.Empty(f.t, page(posted[6], 3))
	require.Equal(f.t, posted, page(fakeID(9), 10), "a marker older than every message")

	// A marker that names a deleted message still pages on from its place.
	require.NoError(f.t, f.del(q, store.ID{}, posted[3]))
	require.Equal(f.t, posted[4:6], page(posted[3], 2))
}

// testClaimedAndDelayedFilters lists a queue holding one free, one claimed
// and one delayed message with every combination of the two flags.
func testClaimedAndDelayedFilters(f *fixture) {
	q := ref("q")
	claimed := f.post(q, "c")[0]
	free := f.post(q, "f")[0]
	delayed := f.postDrafts(q, store.Draft{Body: []byte("d"), Delay: time.Minute})[0]
	c := f.claim(q, 1)
	require.Equal(f.t, []store.ID{claimed}, ids(c.Messages))

	for _, tc := range []struct {
		claimed, delayed bool
		want             []store.ID
	}{
		{false, false, []store.ID{free}},
		{true, false, []store.ID{claimed, free}},
		{false, true, []store.ID{free, delayed}},
		{true, true, []store.ID{claimed, free, delayed}},
	} {
		msgs := f.list(store.ListMessagesParams{Queue: q, IncludeClaimed: tc.claimed, IncludeDelayed: tc.delayed})
		require.Equal(f.t, tc.want, ids(msgs), "IncludeClaimed %v IncludeDelayed %v", tc.claimed, tc.delayed)
	}
	m := f.list(store.ListMessagesParams{Queue: q, IncludeClaimed: true})[0]
	require.Equal(f.t, c.Claim.ID, m.ClaimID)
	requireTime(f.t, c.Claim.Expires, m.ClaimExpires, "ClaimExpires")
	require.Equal(f.t, 1, m.ClaimCount)
}

func testEchoRule(f *fixture) {
	q := ref("q")
	mine := f.postParams(store.PostParams{Queue: q, ClientID: "me", Messages: []store.Draft{{Body: []byte("a")}}})[0]
	theirs := f.postParams(store.PostParams{Queue: q, ClientID: "you", Messages: []store.Draft{{Body: []byte("b")}}})[0]
	anon := f.post(q, "c")[0]
	everything := []store.ID{mine, theirs, anon}

	list := func(client string, echo bool) []store.ID {
		f.t.Helper()
		return ids(f.list(store.ListMessagesParams{Queue: q, ClientID: client, Echo: echo}))
	}
	require.Equal(f.t, []store.ID{theirs, anon}, list("me", false), "own messages hidden without Echo")
	require.Equal(f.t, everything, list("me", true), "Echo shows own messages")
	require.Equal(f.t, everything, list("", false), "no ClientID shows everything")
	require.Equal(f.t, "me", f.getOne(q, mine).ClientID)
	require.Empty(f.t, f.getOne(q, anon).ClientID)
}

// testPagingWhilePosting pages through a queue while other goroutines post
// to it, then checks that every acknowledged ID was seen exactly once
// (M6: paging never skips or repeats a committed message).
func testPagingWhilePosting(f *fixture) {
	const posters, perPoster, limit = 4, 100, 7
	q := ref("q")
	f.create(q, "")

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		posted = map[store.ID]bool{}
		errs   = make(chan error, posters)
	)
	done := make(chan struct{})
	for range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perPoster {
				got, err := f.s.PostMessages(f.ctx, store.PostParams{Queue: q, Messages: []store.Draft{{Body: []byte("x")}}, Now: f.now})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				posted[got[0]] = true
				mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[store.ID]int{}
	var marker store.ID
	next := func() int {
		page := f.list(store.ListMessagesParams{Queue: q, Marker: marker, Limit: limit})
		for _, m := range page {
			require.Positive(f.t, m.ID.Compare(marker), "page went back past its marker")
			seen[m.ID]++
			marker = m.ID
		}
		return len(page)
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			next()
		}
	}
	for next() > 0 { // catch up with what was posted after the last page
	}
	close(errs)
	for err := range errs {
		require.NoError(f.t, err, "PostMessages")
	}
	require.Len(f.t, posted, posters*perPoster)
	for id := range posted {
		require.Equal(f.t, 1, seen[id], "posted ID %v seen %d times", id, seen[id])
	}
	require.Len(f.t, seen, len(posted), "pages held IDs nobody posted")
}

func testGetByIDs(f *fixture) {
	q := ref("q")
	got := f.post(q, "a", "b", "c", "d")
	a, b, c, d := got[0], got[1], got[2], got[3]
	require.NoError(f.t, f.del(q, store.ID{}, b))
	claimed := f.claim(q, 1) // a: claims do not hide it from Get
	delayed := f.postDrafts(q, store.Draft{Body: []byte("e"), Delay: time.Minute})[0]

	msgs := f.get(q, d, fakeID(1), delayed, b, a, c)
	require.Equal(f.t, []store.ID{d, delayed, a, c}, ids(msgs), "found ones, in the order asked")
	require.Equal(f.t, "d", string(msgs[0].Body))
	require.Equal(f.t, claimed.Claim.ID, msgs[2].ClaimID)

	require.Equal(f.t, []store.ID{c}, ids(f.get(q, c, c)), "each once")
	require.Empty(f.t, f.get(q, b), "one missing ID gives an empty list, not an error")
	require.Empty(f.t, f.get(ref("missing"), a), "a missing queue gives an empty list")
}
