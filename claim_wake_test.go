package herald_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldmq/herald"
	"github.com/heraldmq/herald/store"
)

// claimCounter counts CreateClaim calls: each try of a blocked claimer is
// one, so a claimer woken for nothing shows. before and after, if set, run
// around each call (set them while no claim runs).
type claimCounter struct {
	store.Store
	tries         atomic.Int64
	before, after func(ctx context.Context, r store.ClaimResult)
}

func (c *claimCounter) CreateClaim(ctx context.Context, p store.CreateClaimParams) (store.ClaimResult, error) {
	c.tries.Add(1)
	if c.before != nil {
		c.before(ctx, store.ClaimResult{})
	}
	r, err := c.Store.CreateClaim(ctx, p)
	if c.after != nil {
		c.after(ctx, r)
	}
	return r, err
}

// requireAsleep fails if any of the claims has returned.
func requireAsleep(t *testing.T, claims ...<-chan claimResult) {
	t.Helper()
	for i, ch := range claims {
		select {
		case r := <-ch:
			t.Fatalf("claimer %d returned (%v, %v): it should still be asleep", i, r.c, r.err)
		default:
		}
	}
}

// C7: a post of n messages wakes only the sleepers that can take them,
// longest asleep first: one per message for claimers of one, and one
// claimer of up to three for a batch of three. Waking every sleeper on
// every post made posts slow down with the number of sleepers.
func TestBlockingClaimWakesOnlyWhoCanTake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &claimCounter{Store: newMemory()}
		svc := newService(t, func(o *herald.Options) { o.Store = st })
		q := svc.Queue("jobs")
		limits := []int{1, 1, 1, 1, 1, 3, 1}
		got := make([]<-chan claimResult, len(limits))
		for i, limit := range limits {
			got[i] = claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Hour, Limit: limit})
			synctest.Wait() // asleep, in this order
		}
		tries := int64(len(limits)) // each tried once before it slept
		require.Equal(t, tries, st.tries.Load())

		for i, body := range []string{"a", "b", "c"} {
			post(t, q, body)
			synctest.Wait()
			r := <-got[i]
			require.NoError(t, r.err)
			require.Equal(t, []string{body}, bodies(r.c.Messages), "the oldest sleeper takes it")
			tries++
			require.Equal(t, tries, st.tries.Load(), "one try for one message")
			requireAsleep(t, got[i+1:]...)
		}

		post(t, q, "d", "e")
		synctest.Wait()
		var both []string
		for _, ch := range got[3:5] {
			r := <-ch
			require.NoError(t, r.err)
			require.Len(t, r.c.Messages, 1)
			both = append(both, bodies(r.c.Messages)...)
		}
		require.ElementsMatch(t, []string{"d", "e"}, both)
		tries += 2
		require.Equal(t, tries, st.tries.Load())
		requireAsleep(t, got[5:]...)

		post(t, q, "f", "g", "h")
		synctest.Wait()
		r := <-got[5]
		require.NoError(t, r.err)
		require.Equal(t, []string{"f", "g", "h"}, bodies(r.c.Messages))
		tries++
		require.Equal(t, tries, st.tries.Load(), "the claimer of three alone is woken")
		requireAsleep(t, got[6])
	})
}

// C7: a claimer woken by a post or by a claim expiry (B2) whose ctx ends
// before it tries the store hands its wake to the next sleeper, which
// gets the message.
func TestBlockingClaimCancelledWakePassesOn(t *testing.T) {
	for _, by := range []string{"post", "expiry"} {
		t.Run(by, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := newService(t)
				q := svc.Queue("jobs")
				if by == "expiry" {
					post(t, q, "x")
					_, err := q.Claim(t.Context(), herald.ClaimOptions{TTL: 30 * time.Second})
					require.NoError(t, err)
				}
				first, cancel := context.WithCancel(t.Context())
				defer cancel()
				var woken atomic.Int64
				herald.OnWoken(svc, func(ctx context.Context) {
					woken.Add(1)
					if ctx == first {
						cancel()
					}
				})
				a := claimAsync(first, q, herald.ClaimOptions{Wait: time.Hour, Limit: 1})
				synctest.Wait()
				b := claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Hour, Limit: 1})
				synctest.Wait()
				if by == "post" {
					post(t, q, "x")
				}
				ra := <-a
				require.ErrorIs(t, ra.err, context.Canceled)
				rb := <-b
				require.NoError(t, rb.err)
				require.Equal(t, []string{"x"}, bodies(rb.c.Messages))
				require.EqualValues(t, 2, woken.Load(), "the wake went to the first, then to the second")
			})
		})
	}
}

// C7: a wake that comes while every claimer is out trying the store is
// not lost. Here the only sleeper is woken by a post, another claimer
// takes the message first, and a second post lands after the woken one's
// try found nothing but before it went back to sleep: it must try again
// rather than sleep beside a free message.
func TestBlockingClaimWakeWhileTrying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &claimCounter{Store: newMemory()}
		svc := newService(t, func(o *herald.Options) { o.Store = st })
		q := svc.Queue("jobs")
		mine, cancel := context.WithCancel(t.Context())
		defer cancel()
		got := claimAsync(mine, q, herald.ClaimOptions{Wait: time.Hour, Limit: 1})
		synctest.Wait()

		var stolen, late bool
		st.before = func(ctx context.Context, _ store.ClaimResult) {
			if ctx == mine && !stolen {
				stolen = true
				c, err := q.Claim(t.Context(), herald.ClaimOptions{}) // not waiting: takes "first"
				require.NoError(t, err)
				require.Equal(t, []string{"first"}, bodies(c.Messages))
			}
		}
		st.after = func(ctx context.Context, r store.ClaimResult) {
			if ctx == mine && len(r.Messages) == 0 && stolen && !late {
				late = true
				post(t, q, "late") // the only claimer is out trying: no one to wake
			}
		}
		start := time.Now()
		post(t, q, "first")
		r := <-got
		require.NoError(t, r.err)
		require.Equal(t, []string{"late"}, bodies(r.c.Messages))
		require.Zero(t, time.Since(start), "it tried again at once")
	})
}

// C7 + B2: a claim expiry frees an unknown number of messages. The woken
// claimer hands the wake on while it finds something; the one that finds
// nothing learns the next deadline, and the scheduler wakes it then.
func TestBlockingClaimExpiryRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newService(t)
		q := svc.Queue("jobs")
		post(t, q, "a", "b", "c")
		_, err := q.Claim(t.Context(), herald.ClaimOptions{TTL: 30 * time.Second, Limit: 2})
		require.NoError(t, err)
		_, err = q.Claim(t.Context(), herald.ClaimOptions{TTL: time.Minute, Limit: 1})
		require.NoError(t, err)
		start := time.Now()
		got := make([]<-chan claimResult, 3)
		for i := range got {
			got[i] = claimAsync(t.Context(), q, herald.ClaimOptions{Wait: time.Hour, Limit: 1})
			synctest.Wait()
		}

		var freed []string
		for _, ch := range got[:2] {
			r := <-ch
			require.NoError(t, r.err)
			freed = append(freed, bodies(r.c.Messages)...)
			require.Equal(t, 30*time.Second, time.Since(start))
		}
		require.ElementsMatch(t, []string{"a", "b"}, freed)
		synctest.Wait()
		requireAsleep(t, got[2])

		r := <-got[2]
		require.NoError(t, r.err)
		require.Equal(t, []string{"c"}, bodies(r.c.Messages))
		require.Equal(t, time.Minute, time.Since(start))
	})
}
