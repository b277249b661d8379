package herald_test

// C3 end to end: claim IDs are fencing tokens, so a consumer whose lease
// ended cannot settle work another consumer took over, even once that
// consumer has finished it (issue 14 item 1). The clock is driven by hand
// (Options.Now): leases expire exactly when a test says, with no sleeps.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
)

// The reproduction: A's lease on "job" ends (expiry or release), B
// claims it and settles it with Tx{DeleteClaimed; Post}, then A runs the
// same Tx, or a Claim.Delete, with its stale claim: each fails with
// ErrMessageGone (matching ErrNotClaimed) and "out" holds one result.
// B's own retry of its Tx fails the same way and posts nothing.
func TestStaleClaimAfterTakeover(t *testing.T) {
	for _, sk := range timeStores {
		for _, how := range []string{"expired", "released"} {
			t.Run(sk.name+"/"+how, func(t *testing.T) {
				clk := newClock()
				svc := clockService(t, sk.open(t), clk)
				ctx := t.Context()
				in, out := svc.Queue("in"), svc.Queue("out")
				job := post(t, in, "job")[0]

				a, err := in.Claim(ctx, herald.ClaimOptions{TTL: time.Second})
				require.NoError(t, err)
				require.Len(t, a.Messages, 1)
				if how == "expired" {
					clk.Advance(time.Second)
				} else {
					require.NoError(t, a.Release(ctx, 0))
				}
				b, err := in.Claim(ctx, herald.ClaimOptions{TTL: time.Minute})
				require.NoError(t, err)
				require.Len(t, b.Messages, 1)
				settle := func(c *herald.Claim) error {
					_, err := svc.Tx(ctx, func(tx *herald.Tx) error {
						tx.DeleteClaimed(c, job)
						tx.Post(out, herald.Draft{Body: []byte("result")})
						return nil
					})
					return err
				}
				require.NoError(t, settle(b), "the newer claimant settles")

				for _, tc := range []struct {
					what string
					call func() error
				}{
					{"A's Tx", func() error { return settle(a) }},
					{"A's Claim.Delete", func() error { return a.Delete(ctx, job) }},
					{"A's DeleteAndClaim", func() error {
						_, err := a.DeleteAndClaim(ctx, herald.ClaimOptions{}, job)
						return err
					}},
					{"B's retried Tx", func() error { return settle(b) }},
					{"B's retried Claim.Delete", func() error { return b.Delete(ctx, job) }},
				} {
					err := tc.call()
					require.ErrorIs(t, err, herald.ErrMessageGone, tc.what)
					require.ErrorIs(t, err, herald.ErrNotClaimed, tc.what)
				}
				got, err := out.List(ctx, herald.ListOptions{})
				require.NoError(t, err)
				require.Equal(t, []string{"result"}, bodies(got), "one result, not two")
				require.Zero(t, total(t, in))
				require.NoError(t, a.Release(ctx, 0), "releasing a stale claim stays a no-op (C5)")
				require.ErrorIs(t, a.Renew(ctx, time.Minute), herald.ErrClaimNotFound, "renewing one stays ErrClaimNotFound (C4)")
				require.NoError(t, in.Delete(ctx, job), "a delete without a claim skips what is gone (M8)")
			})
		}
	}
}

// Two consumers run consume-transform-produce on one queue with one-second
// leases while the clock, moved by their own "work", often runs past a
// lease: the other consumer then takes the batch over and may settle it
// first. Each settles its batch through Service.Tx (delete under its claim
// and post the results) or through Claim.Delete and then a post. Whatever
// the interleaving, every input yields exactly one output: a stale settle
// fails whole (ErrNotClaimed, ErrMessageGone or ErrClaimMismatch) and posts
// nothing.
//
// In "turns" the two consumers take steps (claim, work, settle) in a seeded
// random order, so every interleaving of the case comes up, among
// them: A claims, A's lease runs out while it works, B claims and settles,
// A settles. In "free" they are two goroutines racing through the same
// steps (run it with -race).
func TestTwoConsumersLeasesExpireExactlyOnce(t *testing.T) {
	for _, sk := range timeStores {
		for _, mode := range []string{"turns", "free"} {
			t.Run(sk.name+"/"+mode, func(t *testing.T) {
				inputs := 500
				if sk.name == "bolt" || testing.Short() {
					inputs = 150 // every settle is an fsync'd commit
				}
				clk := newClock()
				svc := clockService(t, sk.open(t), clk)
				ctx := t.Context()
				in, out := svc.Queue("in"), svc.Queue("out")
				var want []string
				for i := range inputs {
					want = append(want, fmt.Sprint("job", i))
				}
				for batch := range slices.Chunk(want, 100) {
					drafts := make([]herald.Draft, len(batch))
					for i, b := range batch {
						drafts[i] = herald.Draft{Body: []byte(b), TTL: 14 * 24 * time.Hour}
					}
					_, err := in.Post(ctx, drafts...)
					require.NoError(t, err)
				}

				seed := uint64(time.Now().UnixNano())
				t.Logf("seed %d", seed)
				var n fenceCounts
				ws := [2]*fenceWorker{}
				for i := range ws {
					ws[i] = &fenceWorker{svc: svc, in: in, out: out, clk: clk, n: &n, r: rand.New(rand.NewPCG(seed, uint64(i)))}
				}
				if mode == "turns" {
					// A consumer about to settle steps a quarter as
					// often: the other then often claims, works and
					// settles in between.
					r := rand.New(rand.NewPCG(seed, 2))
					weight := func(w *fenceWorker) float64 {
						if w.worked {
							return 0.25
						}
						return 1
					}
					for !ws[0].done || !ws[1].done {
						w0, w1 := weight(ws[0]), weight(ws[1])
						w := ws[1]
						if r.Float64()*(w0+w1) < w0 {
							w = ws[0]
						}
						require.NoError(t, w.step(ctx))
					}
				} else {
					var wg sync.WaitGroup
					errs := make([]error, len(ws))
					for i, w := range ws {
						wg.Go(func() {
							for !w.done && errs[i] == nil {
								errs[i] = w.step(ctx)
							}
						})
					}
					wg.Wait()
					require.NoError(t, errors.Join(errs...))
				}

				var got []string
				var marker herald.ID
				for {
					page, err := out.List(ctx, herald.ListOptions{Marker: marker, Limit: 100})
					require.NoError(t, err)
					if len(page) == 0 {
						break
					}
					for _, m := range page {
						got = append(got, strings.TrimPrefix(string(m.Body), "done:"))
					}
					marker = page[len(page)-1].ID
				}
				require.ElementsMatch(t, want, got, "outputs == inputs: each input settled exactly once")
				require.Zero(t, total(t, in))
				t.Logf("%d settles, %d stale settles refused (%d of a message already gone)", n.settled.Load(), n.stale.Load(), n.gone.Load())
				if mode == "turns" {
					require.Positive(t, n.gone.Load(), "the case under test came up: a stale claimant settled what a newer one had settled")
				}
			})
		}
	}
}

type fenceCounts struct{ settled, stale, gone atomic.Int64 }

// fenceWorker is one consumer: claim 1–3 messages for a second, "work" for
// 0–1.5 s of the shared clock, settle; until the input queue is empty.
// Each step call does one of the three.
type fenceWorker struct {
	svc     *herald.Service
	in, out *herald.Queue
	clk     *clock
	r       *rand.Rand
	n       *fenceCounts
	c       *herald.Claim // the batch in hand
	worked  bool
	done    bool
}

func (w *fenceWorker) step(ctx context.Context) error {
	switch {
	case w.done:
		return nil
	case w.c == nil:
		c, err := w.in.Claim(ctx, herald.ClaimOptions{TTL: time.Second, Limit: 1 + w.r.IntN(3)})
		if err != nil {
			return err
		}
		if len(c.Messages) > 0 {
			w.c = c
			return nil
		}
		st, err := w.in.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Total == 0 {
			w.done = true
			return nil
		}
		w.clk.Advance(time.Second) // the rest is leased: let it expire
		return nil
	case !w.worked:
		w.clk.Advance(time.Duration(w.r.IntN(1500)) * time.Millisecond)
		w.worked = true
		return nil
	}
	c := w.c
	w.c, w.worked = nil, false
	ids := make([]herald.ID, len(c.Messages))
	drafts := make([]herald.Draft, len(c.Messages))
	for i, m := range c.Messages {
		ids[i] = m.ID
		drafts[i] = herald.Draft{Body: append([]byte("done:"), m.Body...)}
	}
	var err error
	if w.r.IntN(3) > 0 {
		_, err = w.svc.Tx(ctx, func(tx *herald.Tx) error {
			tx.DeleteClaimed(c, ids...)
			tx.Post(w.out, drafts...)
			return nil
		})
	} else if err = c.Delete(ctx, ids...); err == nil {
		// Not atomic with the delete, but in one process a post after a
		// settle that succeeded is still exactly once.
		_, err = w.out.Post(ctx, drafts...)
	}
	switch {
	case err == nil:
		w.n.settled.Add(1)
	case errors.Is(err, herald.ErrNotClaimed), errors.Is(err, herald.ErrClaimMismatch):
		w.n.stale.Add(1)
		if errors.Is(err, herald.ErrMessageGone) {
			w.n.gone.Add(1)
		}
	default:
		return err
	}
	return nil
}

// Consume's batched delete after its lease was lost: the handlers of a
// batch of three finish after the lease expired and another consumer took
// the batch and settled one message. Consume's one delete fails, each
// message is tried alone once, the gone one is logged as gone, the other
// two as handled again by their holder; nothing loops, nothing crashes,
// and the other consumer's claim is untouched.
func TestConsumeLostLeaseBatchDelete(t *testing.T) {
	clk := newClock()
	st := &deleteCounter{Store: newMemory()}
	svc := clockService(t, st, clk)
	in, out := svc.Queue("in"), svc.Queue("out")
	ids := post(t, in, "a", "b", "c")
	started := make(chan herald.ID, 3)
	unblock := make(chan struct{})
	log, logs := quietLog()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := consumeAsync(ctx, in, func(ctx context.Context, m herald.Message) error {
		started <- m.ID
		<-unblock
		return nil
	}, herald.ConsumeOptions{Batch: 3, Concurrency: 1, LeaseTTL: time.Minute, Logger: log})

	require.Equal(t, ids[0], <-started)
	clk.Advance(2 * time.Minute) // the process stalled: its lease ended
	other, err := in.Claim(ctx, herald.ClaimOptions{TTL: time.Hour, Limit: 3})
	require.NoError(t, err)
	require.Len(t, other.Messages, 3)
	_, err = svc.Tx(ctx, func(tx *herald.Tx) error {
		tx.DeleteClaimed(other, ids[0])
		tx.Post(out, herald.Draft{Body: []byte("A")})
		return nil
	})
	require.NoError(t, err)
	close(unblock)
	require.Equal(t, ids[1], <-started)
	require.Equal(t, ids[2], <-started)
	cancel()
	require.NoError(t, <-done)

	text := logs.String()
	require.Equal(t, 1, strings.Count(text, "a handled message was already gone"), text)
	require.Contains(t, text, "message="+ids[0].String()+" claim=")
	require.Equal(t, 2, strings.Count(text, "could not delete a handled message; it will be handled again"), text)
	require.EqualValues(t, 4, st.deletes.Load(), "one batch delete, then each message once")
	held, err := in.GetClaim(t.Context(), other.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c"}, bodies(held.Messages))
	require.Equal(t, int64(1), total(t, out))
}
