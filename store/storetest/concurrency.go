package storetest

import (
	"fmt"
	"sync"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald/store"
)

var concurrencyTests = []subtest{
	{"C1/ConcurrentClaimersNeverShare", testConcurrentClaimersNeverShare},
	{"Q3/ConcurrentMetadataSwapsOneWins", testConcurrentMetadataSwapsOneWins},
}

// testConcurrentMetadataSwapsOneWins races writers that all read the same
// metadata and swap in their own: exactly one may land, and the rest get
// ErrConflict, so no writer's change is lost unseen.
func testConcurrentMetadataSwapsOneWins(f *fixture) {
	const writers = 8
	q := ref("q")
	f.create(q, `{"start":true}`)
	read := f.queue(q).Metadata
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { errs[w] = f.setMeta(q, fmt.Sprintf(`{"writer":%d}`, w), read) })
	}
	wg.Wait()
	winner := -1
	for w, err := range errs {
		if err == nil {
			require.Equal(f.t, -1, winner, "writers %d and %d both swapped", winner, w)
			winner = w
			continue
		}
		require.ErrorIs(f.t, err, store.ErrConflict, "writer %d", w)
	}
	require.NotEqual(f.t, -1, winner, "no writer swapped")
	requireMeta(f.t, fmt.Sprintf(`{"writer":%d}`, winner), f.queue(q).Metadata)
}

// holders tracks which claim holds each message, as the claimers saw it.
type holders struct {
	mu      sync.Mutex
	holder  map[store.ID]store.ID
	deleted map[store.ID]int
}

// take records that claim holds msgs, failing if one is already held: two
// live claims on one message break C1.
func (h *holders) take(claim store.ID, msgs []store.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		if prev, ok := h.holder[m.ID]; ok {
			return fmt.Errorf("message %v claimed by %v while %v still holds it", m.ID, claim, prev)
		}
		h.holder[m.ID] = claim
	}
	return nil
}

// drop forgets the holder before a release so that the next claimant is
// not mistaken for an overlap; done marks deletions.
func (h *holders) drop(msgs []store.Message, done bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range msgs {
		delete(h.holder, m.ID)
		if done {
			h.deleted[m.ID]++
		}
	}
}

// testConcurrentClaimersNeverShare runs claimers against one queue; each
// deletes what it claims, either alone or in the call that claims its next
// batch (CreateClaimParams.Delete), except every third claim, which it
// releases. Claims live far longer than the test, so any message seen in
// two claims at once is an overlap, and every message must end deleted
// exactly once.
func testConcurrentClaimersNeverShare(f *fixture) {
	const messages, claimers, limit = 300, 8, 5
	q := ref("q")
	f.post(q, bodies(messages)...)
	h := &holders{holder: map[store.ID]store.ID{}, deleted: map[store.ID]int{}}

	work := func(worker int) error {
		var done []store.Message // deleted with the next claim
		var doneBy store.ID
		for round := 0; ; round++ {
			res, err := f.s.CreateClaim(f.ctx, store.CreateClaimParams{Queue: q, TTL: claimTTL, Limit: limit,
				Delete: ids(done), DeleteClaim: doneBy, Now: f.now})
			if err != nil {
				return err
			}
			h.drop(done, true)
			done = nil
			if len(res.Messages) == 0 {
				return nil
			}
			if err := h.take(res.Claim.ID, res.Messages); err != nil {
				return err
			}
			switch (worker + round) % 3 {
			case 0:
				h.drop(res.Messages, false)
				err = f.s.ReleaseClaim(f.ctx, store.ReleaseClaimParams{Queue: q, Claim: res.Claim.ID, Now: f.now})
			case 1:
				err = f.s.DeleteMessages(f.ctx, store.DeleteMessagesParams{Queue: q, IDs: ids(res.Messages), Claim: res.Claim.ID, Now: f.now})
				h.drop(res.Messages, err == nil)
			default:
				done, doneBy = res.Messages, res.Claim.ID
			}
			if err != nil {
				return err
			}
		}
	}
	errs := make([]error, claimers)
	var wg sync.WaitGroup
	for w := range claimers {
		wg.Go(func() { errs[w] = work(w) })
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(f.t, err, "claimer %d", w)
	}

	// A claimer stops when it finds the queue empty, which may be while
	// another holds claims it then releases; finish those here.
	for {
		res := f.claim(q, limit)
		if len(res.Messages) == 0 {
			break
		}
		require.NoError(f.t, h.take(res.Claim.ID, res.Messages))
		require.NoError(f.t, f.del(q, res.Claim.ID, ids(res.Messages)...))
		h.drop(res.Messages, true)
	}
	require.Len(f.t, h.deleted, messages)
	for id, n := range h.deleted {
		require.Equal(f.t, 1, n, "message %v deleted %d times", id, n)
	}
	require.Equal(f.t, store.Stats{}, f.stats(q))
}
